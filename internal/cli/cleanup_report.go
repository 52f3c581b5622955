package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rotor-project/rotor/internal/cleanup"
	"github.com/rotor-project/rotor/internal/retention"
)

// cleanupMaxDetails is how many references a table row names before "and N more".
const cleanupMaxDetails = 3

// printCleanupTable prints one row per version. detailsHeader names the last column.
func printCleanupTable(w io.Writer, plan *cleanup.Plan, withNamespace bool, dry dryRunStrategy, detailsHeader string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	cols := []string{"NAME", "OUTCOME", "RETENTION CLOCK", detailsHeader}
	if withNamespace {
		cols = append([]string{"NAMESPACE"}, cols...)
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, it := range plan.Items {
		row := []string{it.Name, cleanupOutcomeText(it.Outcome, dry), string(it.ClockSource) + " " + cleanupStamp(it.ClockStart), cleanupDetails(plan, it)}
		if withNamespace {
			row = append([]string{it.Namespace}, row...)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func cleanupOutcomeText(o retention.Outcome, dry dryRunStrategy) string {
	if o == retention.Delete && dry != dryRunNone {
		return "would delete"
	}
	if o == retention.Deleted && dry == dryRunServer {
		return "would delete (server-checked)"
	}
	return string(o)
}

func cleanupStamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func cleanupDetails(plan *cleanup.Plan, it cleanup.Item) string {
	d := it.Decision
	var parts []string
	switch it.Outcome {
	case retention.KeptNewest:
		parts = append(parts, fmt.Sprintf("one of the %d newest", plan.Request.Policy.Keep))
	case retention.KeptRetention:
		parts = append(parts, fmt.Sprintf("retained until %s (--retain %s)", cleanupStamp(it.EligibleAt), retention.FormatDuration(plan.Request.Policy.Retain)))
	case retention.KeptUnverified:
		parts = append(parts, "the reference search could not check everything")
	case retention.KeptReferenced:
		parts = append(parts, cleanupRefList("used by", d.Live))
	case retention.KeptInManifests:
		parts = append(parts, cleanupRefList("named in", d.Manifests))
	case retention.KeptCronJob:
		for _, c := range d.Cron {
			parts = append(parts, cleanupCronText(c))
		}
	case retention.KeptRollbackTarget:
		parts = append(parts, "rollout undo would break: "+cleanupRevisions(d.RollbackTargets))
	case retention.Delete, retention.Deleted:
		if len(d.RollbackTargets) > 0 {
			parts = append(parts, "breaks rollout undo to: "+cleanupRevisions(d.RollbackTargets))
		} else {
			parts = append(parts, "no references")
		}
		if it.ExternalSecret != nil && it.Outcome == retention.Delete {
			parts = append(parts, "its ExternalSecret "+it.ExternalSecret.Name+" goes with it")
		}
	}
	parts = append(parts, it.Notes...)
	return strings.Join(parts, "; ")
}

func cleanupRefText(r retention.Reference) string {
	if r.InManifest() {
		return fmt.Sprintf("%s:%d (%s/%s)", r.File, r.Line, r.Kind, r.Name)
	}
	s := r.Kind + "/" + r.Name
	if r.Owner != nil && (r.Owner.Kind != r.Kind || r.Owner.Name != r.Name) {
		s += " of " + r.Owner.Kind + "/" + r.Owner.Name
	}
	return s + " " + r.Path
}

func cleanupRefList(prefix string, refs []retention.Reference) string {
	var names []string
	for i, r := range refs {
		if i == cleanupMaxDetails {
			names = append(names, fmt.Sprintf("and %d more (-o json lists all)", len(refs)-cleanupMaxDetails))
			break
		}
		names = append(names, cleanupRefText(r))
	}
	return prefix + " " + strings.Join(names, ", ")
}

func cleanupRevisions(refs []retention.Reference) string {
	var out []string
	for _, r := range refs {
		owner := "-"
		if r.Owner != nil {
			owner = r.Owner.Kind + "/" + r.Owner.Name
		}
		out = append(out, fmt.Sprintf("%s revision %s (%s/%s)", owner, orDash(r.Revision), r.Kind, r.Name))
	}
	return strings.Join(out, ", ")
}

func cleanupCronText(c retention.CronUse) string {
	if c.Problem != "" {
		return fmt.Sprintf("CronJob/%s: %s; kept until the schedule can be read", c.CronJob.Name, c.Problem)
	}
	return fmt.Sprintf("CronJob/%s (%q, interval %s) re-pointed %s (%s); held until %s",
		c.CronJob.Name, c.Schedule, c.Hold.Interval, cleanupStamp(c.RepointedAt), c.RepointSource, cleanupStamp(c.Hold.Until))
}

// CleanupReport is the -o json document of `rotor cleanup`. Its fields are a stable
// interface for scripts; see docs/output.md.
type CleanupReport struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Family     string `json:"family"`
	// Namespace is the namespace cleaned, "" for every namespace.
	Namespace string `json:"namespace"`
	DryRun    string `json:"dryRun"`
	Retain    string `json:"retain"`
	Keep      int    `json:"keep"`
	// Now is the time the retention clocks were compared with.
	Now            string              `json:"now"`
	ReferenceScans int                 `json:"referenceScans"`
	NotChecked     []NotCheckedItem    `json:"notChecked"`
	Items          []CleanupReportItem `json:"items"`
	// JournalsPruned are the finished rotation journals deleted (or, in a dry run,
	// that would be) by the journal retention, as namespace/name.
	JournalsPruned []string `json:"journalsPruned"`
}

// CleanupReportItem is one version and its outcome.
type CleanupReportItem struct {
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	Outcome     string `json:"outcome"`
	ClockSource string `json:"clockSource"`
	ClockStart  string `json:"clockStart"`
	EligibleAt  string `json:"eligibleAt"`
	// References are the live references that keep it.
	References []retention.Reference `json:"references"`
	Manifests  []retention.Reference `json:"manifests"`
	// RollbackTargets keep it, or with --allow-breaking-undo are broken by its delete.
	RollbackTargets []retention.Reference `json:"rollbackTargets"`
	CronJobs        []CleanupCronJob      `json:"cronJobs"`
	// Finished are finished Jobs and Pods that named it: reported, never blocking.
	Finished       []retention.Reference `json:"finished"`
	HeldUntil      string                `json:"heldUntil,omitempty"`
	ExternalSecret *cleanup.Owner        `json:"externalSecret,omitempty"`
	Notes          []string              `json:"notes"`
}

// CleanupCronJob is a CronJob that holds a version.
type CleanupCronJob struct {
	Name     string `json:"name"`
	Schedule string `json:"schedule"`
	TimeZone string `json:"timeZone"`
	// RepointedAt is when it moved away from the version; RepointSource is "record" (a
	// rotation record) or "last-modified" (its last spec write, an upper bound).
	RepointedAt   string `json:"repointedAt"`
	RepointSource string `json:"repointSource"`
	// Interval is the schedule's longest gap; HeldUntil ends the hold.
	Interval  string `json:"interval,omitempty"`
	HeldUntil string `json:"heldUntil,omitempty"`
	Problem   string `json:"problem,omitempty"`
}

func newCleanupReport(plan *cleanup.Plan, dry dryRunStrategy) CleanupReport {
	req := plan.Request
	rep := CleanupReport{
		APIVersion: "rotor.dev/v1alpha1", Kind: "CleanupReport", Family: req.Family, Namespace: req.Namespace,
		DryRun: dry.String(), Retain: retention.FormatDuration(req.Policy.Retain), Keep: req.Policy.Keep,
		Now: cleanupStamp(plan.Now), ReferenceScans: plan.Scans, NotChecked: []NotCheckedItem{}, Items: []CleanupReportItem{},
		JournalsPruned: []string{},
	}
	for _, r := range plan.JournalsPruned {
		rep.JournalsPruned = append(rep.JournalsPruned, r.Namespace+"/"+r.Name)
	}
	for _, nc := range plan.NotChecked {
		rep.NotChecked = append(rep.NotChecked, NotCheckedItem{Kind: nc.Kind, Namespace: nc.Namespace, File: nc.File, Reason: nc.Reason})
	}
	for _, it := range plan.Items {
		d := it.Decision
		item := CleanupReportItem{
			Namespace: it.Namespace, Name: it.Name, Version: it.Version.Timestamp(), Outcome: string(it.Outcome),
			ClockSource: string(it.ClockSource), ClockStart: cleanupStamp(it.ClockStart), EligibleAt: cleanupStamp(it.EligibleAt),
			References: cleanupRefs(d.Live), Manifests: cleanupRefs(d.Manifests), RollbackTargets: cleanupRefs(d.RollbackTargets),
			CronJobs: []CleanupCronJob{}, Finished: cleanupRefs(d.Finished), ExternalSecret: it.ExternalSecret, Notes: it.Notes,
		}
		for _, c := range d.Cron {
			cj := CleanupCronJob{Name: c.CronJob.Name, Schedule: c.Schedule, TimeZone: c.TimeZone,
				RepointedAt: cleanupStamp(c.RepointedAt), RepointSource: c.RepointSource, Problem: c.Problem}
			if c.Problem == "" {
				cj.Interval, cj.HeldUntil = c.Hold.Interval.String(), cleanupStamp(c.Hold.Until)
			}
			item.CronJobs = append(item.CronJobs, cj)
		}
		if item.Notes == nil {
			item.Notes = []string{}
		}
		if !d.Until.IsZero() {
			item.HeldUntil = cleanupStamp(d.Until)
		}
		rep.Items = append(rep.Items, item)
	}
	return rep
}

func cleanupRefs(r []retention.Reference) []retention.Reference {
	if r == nil {
		return []retention.Reference{}
	}
	return r
}
