package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
)

// policyFields are the keys an environment and a family override share.
var policyFields = []string{"strategy", "soak", "verify", "analysis", "watch", "windows", "retention", "onWindowEnd", "fleetRollback"}

func (d *decoder) policy(f map[string]field, path, dir string) PolicySpec {
	var p PolicySpec
	if v, ok := f["strategy"]; ok {
		d.strategy(v.val, path+".strategy", &p)
	}
	for _, dur := range []struct {
		key string
		to  *Setting[time.Duration]
	}{{"soak", &p.Soak}, {"watch", &p.Watch}} {
		if v, ok := f[dur.key]; ok {
			if x, ok := d.duration(v.val, path+"."+dur.key); ok {
				*dur.to = set(x, posOf(d.resolve(v.val)))
			}
		}
	}
	if v, ok := f["verify"]; ok {
		vp := path + ".verify"
		if vf, ok := d.fields(v.val, vp, "job"); ok {
			if j, ok := vf["job"]; !ok {
				d.errorf(d.resolve(v.val), vp, "job is missing: name the Job (or CronJob) to run as the verification, e.g. verify: {job: integration-tests}")
			} else if name, ok := d.str(j.val, vp+".job", "a Job name"); ok {
				if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
					d.errorf(d.resolve(j.val), vp+".job", "%q is not a valid Job name", name)
				} else {
					p.Verify = set(Verify{Job: name}, posOf(d.resolve(v.val)))
				}
			}
		}
	}
	if v, ok := f["analysis"]; ok {
		d.analysis(v.val, path+".analysis", dir, &p)
	}
	if v, ok := f["windows"]; ok {
		var s Schedule
		good := d.list(v.val, path+".windows", func(i int, n *yaml.Node) {
			if w, ok := d.window(n, fmt.Sprintf("%s.windows[%d]", path, i)); ok {
				s = append(s, w)
			}
		})
		if good {
			p.Windows = set(s, posOf(d.resolve(v.val)))
		}
	}
	if v, ok := f["retention"]; ok {
		rp := path + ".retention"
		if rf, ok := d.fields(v.val, rp, "retain", "keep"); ok {
			if r, ok := rf["retain"]; ok {
				if x, ok := d.duration(r.val, rp+".retain"); ok {
					p.Retain = set(x, posOf(d.resolve(r.val)))
				}
			}
			if k, ok := rf["keep"]; ok {
				if x, ok := d.integer(k.val, rp+".keep", 0, 1000); ok {
					p.Keep = set(x, posOf(d.resolve(k.val)))
				}
			}
		}
	}
	if v, ok := f["onWindowEnd"]; ok {
		if s, ok := d.oneOf(v.val, path+".onWindowEnd", "window-end policy", string(WaitForNextWindow), string(FailAtWindowEnd)); ok {
			p.OnWindowEnd = set(OnWindowEnd(s), posOf(d.resolve(v.val)))
		}
	}
	if v, ok := f["fleetRollback"]; ok {
		if s, ok := d.oneOf(v.val, path+".fleetRollback", "fleet rollback policy", string(RollbackCluster), string(RollbackFleet)); ok {
			p.FleetRollback = set(FleetRollback(s), posOf(d.resolve(v.val)))
		}
	}
	return p
}

func (d *decoder) strategy(n *yaml.Node, path string, p *PolicySpec) {
	f, ok := d.fields(n, path, "type", "steps", "pause")
	if !ok {
		return
	}
	if v, ok := f["type"]; ok {
		if s, ok := d.oneOf(v.val, path+".type", "strategy", string(Rolling), string(BlueGreen)); ok {
			p.Strategy = set(StrategyType(s), posOf(d.resolve(v.val)))
		}
	}
	if v, ok := f["steps"]; ok {
		d.steps(v, path+".steps", p)
	}
	if v, ok := f["pause"]; ok {
		if x, ok := d.duration(v.val, path+".pause"); ok {
			p.Pause = set(x, posOf(d.resolve(v.val)))
		}
	}
	if p.Strategy.Set && p.Strategy.Value != BlueGreen {
		for _, k := range []string{"steps", "pause"} {
			if v, ok := f[k]; ok {
				d.errorf(v.key, path+"."+k, "%s applies to the bluegreen strategy only, and this one is %s", k, p.Strategy.Value)
			}
		}
	}
}

// steps reads blue-green steps: percentages from 1 to 100, rising, ending at 100.
func (d *decoder) steps(v field, path string, p *PolicySpec) {
	var steps []int
	good := d.list(v.val, path, func(i int, it *yaml.Node) {
		x, ok := d.integer(it, fmt.Sprintf("%s[%d]", path, i), 1, 100)
		if !ok {
			return
		}
		if len(steps) > 0 && x <= steps[len(steps)-1] {
			d.errorf(d.resolve(it), fmt.Sprintf("%s[%d]", path, i), "%d does not rise above the step before it (%d): steps are rising percentages ending at 100", x, steps[len(steps)-1])
		}
		steps = append(steps, x)
	})
	if !good {
		return
	}
	if len(steps) == 0 || steps[len(steps)-1] != 100 {
		d.errorf(v.key, path, "the last step must be 100 (every replica on the new version), e.g. steps: [10, 50, 100]")
		return
	}
	p.Steps = set(steps, posOf(d.resolve(v.val)))
}

func (d *decoder) analysis(n *yaml.Node, path, dir string, p *PolicySpec) {
	f, ok := d.fields(n, path, "template", "args")
	if !ok {
		return
	}
	t, ok := f["template"]
	if !ok {
		d.errorf(d.resolve(n), path, "template is missing: name an AnalysisTemplate file, e.g. analysis: {template: error-rate.yaml}")
		return
	}
	a := Analysis{}
	if a.Template, ok = d.str(t.val, path+".template", "a file name"); !ok {
		return
	}
	a.Path = a.Template
	if !filepath.IsAbs(a.Path) {
		a.Path = filepath.Join(dir, a.Path)
	}
	if v, ok := f["args"]; ok {
		af, ok := d.argFields(v.val, path+".args")
		if !ok {
			return
		}
		a.Args = af
	}
	p.Analysis = set(a, posOf(d.resolve(n)))
}

// argFields reads analysis arguments: names to scalar values.
func (d *decoder) argFields(n *yaml.Node, path string) (map[string]string, bool) {
	n = d.resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping of names to values, e.g. {service: auth}")
		return nil, false
	}
	out := map[string]string{}
	good := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			d.errorf(k, path, "argument names must be plain names")
			good = false
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errorf(k, path, "argument %q is given twice", k.Value)
			good = false
			continue
		}
		v, _, ok := d.scalar(n.Content[i+1], path+"."+k.Value, "a value")
		if !ok {
			good = false
			continue
		}
		out[k.Value] = v
	}
	return out, good
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func (d *decoder) window(n *yaml.Node, path string) (Window, bool) {
	f, ok := d.fields(n, path, "days", "start", "end", "timeZone")
	if !ok {
		return Window{}, false
	}
	n = d.resolve(n)
	w := Window{Pos: posOf(n)}
	good := true
	if v, ok := f["days"]; ok {
		d.list(v.val, path+".days", func(i int, it *yaml.Node) {
			s, ok := d.str(it, fmt.Sprintf("%s.days[%d]", path, i), "a day such as Tue")
			if !ok {
				good = false
				return
			}
			wd, ok := weekdays[strings.ToLower(s)]
			if i := weekdayIndex(s); !ok && i >= 0 {
				wd, ok = time.Weekday(i), true
			}
			if !ok {
				d.errorf(d.resolve(it), fmt.Sprintf("%s.days[%d]", path, i), "%q is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun", s)
				good = false
				return
			}
			for _, x := range w.Days {
				if x == wd {
					d.errorf(d.resolve(it), fmt.Sprintf("%s.days[%d]", path, i), "%s is listed twice", s)
					good = false
					return
				}
			}
			w.Days = append(w.Days, wd)
		})
		sort.Slice(w.Days, func(i, j int) bool { return w.Days[i] < w.Days[j] })
	}
	for _, c := range []struct {
		key  string
		to   *int
		last int
	}{{"start", &w.Start, 23*60 + 59}, {"end", &w.End, 24 * 60}} {
		v, ok := f[c.key]
		if !ok {
			d.errorf(n, path, "%s is missing: give a wall-clock time such as \"02:00\"", c.key)
			good = false
			continue
		}
		s, ok := d.str(v.val, path+"."+c.key, "a time such as \"02:00\"")
		if !ok {
			good = false
			continue
		}
		m, ok := clockMinutes(s)
		if !ok || m > c.last {
			d.errorf(d.resolve(v.val), path+"."+c.key, "%q is not a time of day: use HH:MM from 00:00 to %s", s, formatMinutes(c.last))
			good = false
			continue
		}
		*c.to = m
	}
	if good && w.Start == w.End {
		d.errorf(n, path, "start and end are the same time: a window needs a length (00:00 to 24:00 is the whole day)")
		good = false
	}
	v, ok := f["timeZone"]
	if !ok {
		d.errorf(n, path, "timeZone is missing: give the IANA time zone the times are in, e.g. timeZone: Europe/Berlin or UTC")
		return Window{}, false
	}
	tz, ok := d.str(v.val, path+".timeZone", "an IANA time zone such as Europe/Berlin")
	if !ok {
		return Window{}, false
	}
	loc, err := loadLocation(tz)
	if err != nil {
		d.errorf(d.resolve(v.val), path+".timeZone", "unknown time zone %q: use an IANA name such as Europe/Berlin, America/New_York or UTC", tz)
		return Window{}, false
	}
	w.TimeZone, w.Location = tz, loc
	return w, good
}

func weekdayIndex(s string) int {
	for i := 0; i < 7; i++ {
		if strings.EqualFold(time.Weekday(i).String(), s) {
			return i
		}
	}
	return -1
}

// clockMinutes reads "HH:MM" (two digits each) as minutes after midnight.
func clockMinutes(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || s[0] == '+' || s[3] == '+' || h < 0 || m < 0 || m > 59 || h > 24 {
		return 0, false
	}
	return h*60 + m, true
}

func formatMinutes(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
