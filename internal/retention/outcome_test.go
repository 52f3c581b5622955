package retention

import (
	"testing"
)

func TestClassify(t *testing.T) {
	live := Reference{Kind: "Deployment", Name: "api", Role: Live, Path: "spec.template.spec.volumes[name=s].secret"}
	oldRS := Reference{Kind: "ReplicaSet", Name: "api-7d9f", Role: RollbackTarget, Owner: &Workload{"Deployment", "api"}, Revision: "3"}
	inFile := Reference{Kind: "Deployment", Name: "api", Role: Live, File: "apps/api.yaml", Line: 12}
	finishedJob := Reference{Kind: "Job", Name: "report-29000", Role: Finished, Owner: &Workload{"CronJob", "report"}}
	holding := CronUse{CronJob: Workload{"CronJob", "report"}, Hold: CronHold{Until: now.Add(Day)}}
	expired := CronUse{CronJob: Workload{"CronJob", "report"}, Hold: CronHold{Until: now.Add(-Day)}}
	unreadable := CronUse{CronJob: Workload{"CronJob", "report"}, Problem: "cannot parse"}
	tests := []struct {
		name      string
		policy    Policy
		refs      []Reference
		cron      []CronUse
		unchecked bool
		want      Outcome
	}{
		{"a version nothing names is deleted", Policy{}, nil, nil, false, Delete},
		{"a live reference keeps it", Policy{}, []Reference{live}, nil, false, KeptReferenced},
		{"a live reference wins over every other reason", Policy{AllowBreakingUndo: true}, []Reference{oldRS, inFile, live}, []CronUse{holding}, false, KeptReferenced},
		{"a reference in a manifest keeps it", Policy{}, []Reference{inFile}, nil, false, KeptInManifests},
		{"an old ReplicaSet alone keeps it as a rollback target", Policy{}, []Reference{oldRS}, nil, false, KeptRollbackTarget},
		{"allowing broken undo deletes a rollback target", Policy{AllowBreakingUndo: true}, []Reference{oldRS}, nil, false, Delete},
		{"a CronJob re-pointed recently holds it", Policy{}, []Reference{finishedJob}, []CronUse{holding}, false, KeptCronJob},
		{"a CronJob hold is not overridden by allowing broken undo", Policy{AllowBreakingUndo: true}, []Reference{oldRS}, []CronUse{holding}, false, KeptCronJob},
		{"a CronJob re-pointed long ago no longer holds it", Policy{}, []Reference{finishedJob}, []CronUse{expired}, false, Delete},
		{"a CronJob whose schedule cannot be read holds it", Policy{}, nil, []CronUse{unreadable}, false, KeptCronJob},
		{"finished Jobs alone do not keep it", Policy{}, []Reference{finishedJob}, nil, false, Delete},
		{"an incomplete scan keeps everything", Policy{}, nil, nil, true, KeptUnverified},
		{"an unknown role is treated as live", Policy{}, []Reference{{Kind: "Widget", Name: "w", Role: "future"}}, nil, false, KeptReferenced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Classify(tt.policy, now, tt.refs, tt.cron, tt.unchecked)
			if d.Outcome != tt.want {
				t.Fatalf("outcome = %q; want %q (decision %+v)", d.Outcome, tt.want, d)
			}
			if tt.want == Delete && tt.policy.AllowBreakingUndo && len(d.RollbackTargets) != len(filter(tt.refs, RollbackTarget)) {
				t.Fatalf("broken revisions not reported: %+v", d.RollbackTargets)
			}
		})
	}
}

func filter(refs []Reference, role Role) []Reference {
	var out []Reference
	for _, r := range refs {
		if r.Role == role && !r.InManifest() {
			out = append(out, r)
		}
	}
	return out
}

func TestClassifyReportsTheLatestHold(t *testing.T) {
	a := CronUse{CronJob: Workload{"CronJob", "a"}, Hold: CronHold{Until: now.Add(Day)}}
	b := CronUse{CronJob: Workload{"CronJob", "b"}, Hold: CronHold{Until: now.Add(40 * Day)}}
	d := Classify(Policy{}, now, nil, []CronUse{a, b}, false)
	if !d.Until.Equal(now.Add(40*Day)) || len(d.Cron) != 2 {
		t.Fatalf("decision = %+v", d)
	}
}

func TestCronJobsUsing(t *testing.T) {
	refs := []Reference{
		{Kind: "Job", Name: "b-1", Role: Finished, Owner: &Workload{"CronJob", "b"}},
		{Kind: "Job", Name: "a-1", Role: Finished, Owner: &Workload{"CronJob", "a"}},
		{Kind: "Job", Name: "a-2", Role: Finished, Owner: &Workload{"CronJob", "a"}},
		{Kind: "Job", Name: "solo", Role: Finished},
		{Kind: "Job", Name: "c-1", Role: Live, Owner: &Workload{"CronJob", "c"}},
	}
	got := CronJobsUsing(refs)
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
		t.Fatalf("CronJobsUsing = %+v; want a and b once each", got)
	}
}
