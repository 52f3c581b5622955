package analysis

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// DefaultConsecutiveErrorLimit is Argo Rollouts' default: a metric is in Error after
// more than four provider errors in a row.
const DefaultConsecutiveErrorLimit = 4

// settings are a metric's loop parameters, parsed and checked.
type settings struct {
	interval     time.Duration
	initialDelay time.Duration
	// count is the number of measurements to take; 0 means "until the window ends".
	count int
	// Limits; a negative limit means no limit.
	failureLimit, inconclusiveLimit, consecutiveErrorLimit int
}

func settingsOf(m Metric) (settings, error) {
	var s settings
	var err error
	if s.interval, err = duration("interval", m.Interval); err != nil {
		return s, err
	}
	if s.initialDelay, err = duration("initialDelay", m.InitialDelay); err != nil {
		return s, err
	}
	if s.count, err = limit("count", m.Count, 0); err != nil {
		return s, err
	}
	if s.count < 0 {
		return s, fmt.Errorf("count is %d: it must be 0 or more", s.count)
	}
	if s.count > 1 && s.interval == 0 {
		return s, fmt.Errorf("count is %d but no interval is set: add an interval such as 30s", s.count)
	}
	if s.failureLimit, err = limit("failureLimit", m.FailureLimit, 0); err != nil {
		return s, err
	}
	if s.inconclusiveLimit, err = limit("inconclusiveLimit", m.InconclusiveLimit, 0); err != nil {
		return s, err
	}
	if s.consecutiveErrorLimit, err = limit("consecutiveErrorLimit", m.ConsecutiveErrorLimit, DefaultConsecutiveErrorLimit); err != nil {
		return s, err
	}
	return s, checkProvider(m.Provider)
}

func duration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a duration: write it like 30s, 5m or 1h", field, v)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s %q is negative", field, v)
	}
	return d, nil
}

func limit(field string, v *intstr.IntOrString, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	if v.Type == intstr.Int {
		return int(v.IntVal), nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.StrVal))
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a whole number", field, v.StrVal)
	}
	return n, nil
}

func checkProvider(p Provider) error {
	n := 0
	for _, set := range []bool{p.Prometheus != nil, p.Datadog != nil, p.Web != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("provider must name exactly one of prometheus, datadog or web (rotor supports these three)")
	}
	switch {
	case p.Prometheus != nil:
		if strings.TrimSpace(p.Prometheus.Query) == "" {
			return errors.New("provider.prometheus.query is empty")
		}
		if err := checkURL("provider.prometheus.address", p.Prometheus.Address); err != nil {
			return err
		}
		if p.Prometheus.Timeout != nil && *p.Prometheus.Timeout <= 0 {
			return errors.New("provider.prometheus.timeout must be a positive number of seconds")
		}
	case p.Datadog != nil:
		if strings.TrimSpace(p.Datadog.Query) == "" {
			return errors.New("provider.datadog.query is empty")
		}
		switch p.Datadog.APIVersion {
		case "", "v1", "v2":
		default:
			return fmt.Errorf("provider.datadog.apiVersion %q: use v1 or v2", p.Datadog.APIVersion)
		}
		if _, err := duration("provider.datadog.interval", p.Datadog.Interval); err != nil {
			return err
		}
		if p.Datadog.SecretRef != nil && p.Datadog.SecretRef.Name == "" {
			return errors.New("provider.datadog.secretRef.name is empty")
		}
	case p.Web != nil:
		if err := checkURL("provider.web.url", p.Web.URL); err != nil {
			return err
		}
		if p.Web.TimeoutSeconds < 0 {
			return errors.New("provider.web.timeoutSeconds must not be negative")
		}
	}
	return nil
}

func checkURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q is not an http(s) URL", field, redactURL(raw))
	}
	return nil
}

// redactURL keeps a URL's scheme and host: user info, paths and query strings may hold
// credentials and are never printed.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}
