package rotation

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

func throughGit(r *v1alpha1.SecretRotation) { r.Spec.GitOps = &v1alpha1.GitOpsSpec{Push: true} }

func committed(action ActionType, applied bool) func(*v1alpha1.SecretRotation) {
	return func(r *v1alpha1.SecretRotation) {
		c := v1alpha1.SourceChange{Action: string(action), Commit: "0123456789abcdef0123", At: metav1.NewTime(clk.Now())}
		if applied {
			c.Applied = at(0)
		}
		r.Status.Commits = append(r.Status.Commits, c)
	}
}

func TestDecideThroughGit(t *testing.T) {
	tests := []struct {
		name string
		rot  *v1alpha1.SecretRotation
		obs  Observation
		want Action
	}{
		{"a rotation through git re-points by a commit first", rolling(v1alpha1.Progressing, throughGit), cluster(v1, 2, false), Action{Type: ActRepoint, Consumers: []int{0}}},
		{"after the commit it waits for the GitOps engine to apply it, instead of committing again", rolling(v1alpha1.Progressing, throughGit, committed(ActRepoint, false)), cluster(v1, 2, false),
			Action{Type: ActWait, Reason: "the GitOps engine to apply commit 0123456789ab"}},
		{"once the cluster shows the commit, the re-point is recorded and health is judged as live", rolling(v1alpha1.Progressing, throughGit, committed(ActRepoint, false)), cluster(v2, 2, false),
			Action{Type: ActMark, Mark: MarkRepointed}},
		{"a blue-green rotation through git is refused before anything changes", bluegreen(throughGit, func(r *v1alpha1.SecretRotation) { r.Status.Phase = v1alpha1.Pending }), cluster(v1, 4, true),
			Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: ErrBlueGreenThroughGit.Error() + "; nothing was changed"}}},
		{"a failure after the commit reverts it even while the cluster does not show it yet", rolling(v1alpha1.RollingBack, throughGit, committed(ActRepoint, false)), cluster(v1, 2, true),
			Action{Type: ActRestore, Consumers: []int{0}}},
		{"a failure after the applied commit reverts it", rolling(v1alpha1.RollingBack, throughGit, committed(ActRepoint, true)), cluster(v2, 2, false),
			Action{Type: ActRestore, Consumers: []int{0}}},
		{"after the revert commit it waits for the cluster to return", rolling(v1alpha1.RollingBack, throughGit, committed(ActRepoint, true), committed(ActRestore, false)), cluster(v2, 2, false),
			Action{Type: ActWait, Reason: "the GitOps engine to apply revert commit 0123456789ab"}},
		{"once the cluster is back the rollback ends RolledBack", rolling(v1alpha1.RollingBack, throughGit, committed(ActRepoint, true), committed(ActRestore, false)), cluster(v1, 2, true),
			Action{Type: ActFinish, Phase: v1alpha1.RolledBack}},
		{"nothing committed yet: nothing to revert, even with a consumer someone else put on the target", rolling(v1alpha1.RollingBack, throughGit), cluster(v2, 2, true),
			Action{Type: ActFinish, Phase: v1alpha1.RolledBack}},
		{"a version to return to that was deleted is not committed back, and the rollback says so", rolling(v1alpha1.RollingBack, throughGit, committed(ActRepoint, true)),
			with(cluster(v2, 2, true), func(o *Observation) { o.Missing[v1] = true }),
			Action{Type: ActFinish, Phase: v1alpha1.Failed, Reason: "could not roll back: Deployment/web stays on " + v2 + ": " + v1 + " no longer exists"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.rot, tt.obs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Decide =\n  %+v\nwant\n  %+v", got, tt.want)
			}
		})
	}
}

func TestAFailureAfterACommitAlwaysRollsBack(t *testing.T) {
	// The cluster does not show the commit yet (the GitOps engine has not applied it),
	// but it will: ending Failed without a revert would leave it to be applied later.
	rot := rolling(v1alpha1.Progressing, throughGit, committed(ActRepoint, false))
	applyStatus(rot, Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: "deadline"}}, cluster(v1, 2, true))
	if rot.Status.Phase != v1alpha1.RollingBack {
		t.Fatalf("phase %s, want RollingBack", rot.Status.Phase)
	}
	live := rolling(v1alpha1.Progressing)
	applyStatus(live, Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: "deadline"}}, cluster(v1, 2, true))
	if live.Status.Phase != v1alpha1.Failed {
		t.Fatalf("a live rotation that moved nothing: phase %s, want Failed", live.Status.Phase)
	}
}

func TestACommitIsRecordedAndTheClusterIsWaitedFor(t *testing.T) {
	rot := rolling(v1alpha1.Progressing, throughGit)
	complete(rot, Action{Type: ActRepoint, Consumers: []int{0}}, clk.Now(), &v1alpha1.SourceChange{Commit: "abc", Objects: []string{"Deployment/web"}, Pushed: true})
	st := rot.Status
	if len(st.Commits) != 1 || st.Commits[0].Action != string(ActRepoint) || st.Commits[0].Commit != "abc" || st.Commits[0].At.IsZero() {
		t.Fatalf("commits %+v", st.Commits)
	}
	if st.Consumers[0].Observed != "" || st.StepStarted != nil {
		t.Fatalf("a commit the cluster does not show yet was recorded as observed: %+v, step started %v", st.Consumers[0], st.StepStarted)
	}
}

func TestTheCommitIsMarkedAppliedWhenTheClusterShowsIt(t *testing.T) {
	rot := rolling(v1alpha1.Progressing, throughGit, committed(ActRepoint, false))
	record(rot, cluster(v1, 2, false))
	if rot.Status.Commits[0].Applied != nil {
		t.Fatal("marked applied while the cluster still shows the old version")
	}
	later := clk.Now().Add(time.Second)
	record(rot, with(cluster(v2, 2, false), func(o *Observation) { o.Now = later }))
	if a := rot.Status.Commits[0].Applied; a == nil || !a.Time.Equal(later) {
		t.Fatalf("applied %v, want when the cluster was seen showing it", a)
	}
}

func TestARollbackOfARotationThroughGitGoesThroughGit(t *testing.T) {
	of := rolling(v1alpha1.Succeeded, throughGit)
	rb := NewRollback(of, "alice", clk.Now())
	if rb.Spec.GitOps == nil || !rb.Spec.GitOps.Push || rb.Spec.GitOps == of.Spec.GitOps {
		t.Fatalf("rollback spec.gitops %+v (want a copy of the rotation's)", rb.Spec.GitOps)
	}
}
