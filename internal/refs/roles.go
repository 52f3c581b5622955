package refs

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Revision annotations of ReplicaSets (and of the Deployments and Rollouts owning them).
const (
	deploymentRevision = "deployment.kubernetes.io/revision"
	rolloutRevision    = "rollout.argoproj.io/revision"
)

// history says whether an object is one entry of its owner's revision history.
type history int

const (
	noHistory history = iota
	replicaSetHistory
	controllerRevisionHistory
)

// objectInfo is what the role of an object's references depends on.
type objectInfo struct {
	kind, apiVersion string
	role             Role
	history          history
	revision         int64
	// active is a ReplicaSet that has or wants pods: never only a rollback target.
	active bool
	// ownerRevision is a Deployment's or Rollout's current revision.
	ownerRevision int64
}

func (i objectInfo) revisionString() string {
	if i.revision == 0 {
		return ""
	}
	return strconv.FormatInt(i.revision, 10)
}

func describeNothing[T any](T, *objectInfo) {}

func describePod(p *corev1.Pod, i *objectInfo) {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		i.role = RoleFinished
	}
}

func describeJob(j *batchv1.Job, i *objectInfo) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			i.role = RoleFinished
		}
	}
}

func describeDeployment(d *appsv1.Deployment, i *objectInfo) {
	i.ownerRevision = annotationRevision(d)
}

func describeReplicaSet(rs *appsv1.ReplicaSet, i *objectInfo) {
	i.history = replicaSetHistory
	i.revision = annotationRevision(rs)
	i.active = (rs.Spec.Replicas != nil && *rs.Spec.Replicas > 0) || rs.Status.Replicas > 0
}

func describeControllerRevision(cr *appsv1.ControllerRevision, i *objectInfo) {
	i.history = controllerRevisionHistory
	i.revision = cr.Revision
}

func annotationRevision(o metav1.Object) int64 {
	a := o.GetAnnotations()
	v, ok := a[deploymentRevision]
	if !ok {
		v = a[rolloutRevision]
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// controllerOf is the object's controlling owner, or its first owner.
func controllerOf(o metav1.Object) (ObjectRef, bool) {
	refs := o.GetOwnerReferences()
	if len(refs) == 0 {
		return ObjectRef{}, false
	}
	pick := refs[0]
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			pick = r
			break
		}
	}
	return ObjectRef{Kind: pick.Kind, APIVersion: pick.APIVersion, Namespace: o.GetNamespace(), Name: pick.Name, UID: pick.UID}, true
}

// ownerIndex is the little the scan keeps of objects it does not report: who owns the
// objects that own others (ReplicaSets, Jobs), and each owner's current revision.
type ownerIndex struct {
	parent map[types.UID]ObjectRef
	// current is the revision a Deployment or Rollout says is current.
	current map[types.UID]int64
	// newest is the highest revision seen in an owner's history, per history kind.
	newest map[history]map[types.UID]int64
}

func newOwnerIndex() ownerIndex {
	return ownerIndex{
		parent:  map[types.UID]ObjectRef{},
		current: map[types.UID]int64{},
		newest:  map[history]map[types.UID]int64{replicaSetHistory: {}, controllerRevisionHistory: {}},
	}
}

// note records one listed object. Only kinds that own others keep a parent entry.
func (x ownerIndex) note(self, owner ObjectRef, hasOwner bool, info objectInfo) {
	if info.ownerRevision != 0 {
		x.current[self.UID] = info.ownerRevision
	}
	if !hasOwner {
		return
	}
	switch info.kind {
	case "ReplicaSet", "Job":
		x.parent[self.UID] = owner
	}
	if info.history != noHistory && info.revision > x.newest[info.history][owner.UID] {
		x.newest[info.history][owner.UID] = info.revision
	}
}

// chain is the owner chain starting at owner, nearest first.
func (x ownerIndex) chain(owner ObjectRef) []ObjectRef {
	out := []ObjectRef{owner}
	for len(out) < 8 {
		next, ok := x.parent[out[len(out)-1].UID]
		if !ok {
			break
		}
		out = append(out, next)
	}
	return out
}

// pending is what settles a reference's owner chain and role once every kind is
// listed: its object's controlling owner and place in a revision history.
type pending struct {
	owner    ObjectRef
	hasOwner bool
	history  history
	active   bool
	revision int64
}

// resolve fills in owner chains and the roles of revision-history entries, in place.
// References with the same owner share one chain slice.
func (s *scan) resolve() []Reference {
	chains := map[ObjectRef][]ObjectRef{}
	for i := range s.found {
		p := &s.pending[i]
		if !p.hasOwner {
			continue
		}
		chain, ok := chains[p.owner]
		if !ok {
			chain = s.owners.chain(p.owner)
			chains[p.owner] = chain
		}
		r := &s.found[i]
		r.Owners = chain
		r.Role = s.owners.historyRole(p, r.Role)
	}
	out := s.found
	s.found, s.pending = nil, nil
	return out
}

// historyRole is live for the current entry of a revision history (and for a
// ReplicaSet that still runs pods), rollback-target for older entries; role otherwise.
func (x ownerIndex) historyRole(p *pending, role Role) Role {
	switch p.history {
	case replicaSetHistory:
		if p.active {
			return RoleLive
		}
		cur, ok := x.current[p.owner.UID]
		if !ok {
			cur = x.newest[replicaSetHistory][p.owner.UID]
		}
		if p.revision == cur {
			return RoleLive
		}
		return RoleRollbackTarget
	case controllerRevisionHistory:
		if p.revision == x.newest[controllerRevisionHistory][p.owner.UID] {
			return RoleLive
		}
		return RoleRollbackTarget
	}
	return role
}
