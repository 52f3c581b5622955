package refs

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rotor-project/rotor/internal/kinds"
)

func revisionString(r int64) string {
	if r == 0 {
		return ""
	}
	return strconv.FormatInt(r, 10)
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
	newest map[kinds.History]map[types.UID]int64
}

func newOwnerIndex() ownerIndex {
	return ownerIndex{
		parent:  map[types.UID]ObjectRef{},
		current: map[types.UID]int64{},
		newest:  map[kinds.History]map[types.UID]int64{kinds.ReplicaSetHistory: {}, kinds.ControllerRevisionHistory: {}},
	}
}

// note records one listed object. Only kinds that own others keep a parent entry.
func (x ownerIndex) note(k *kinds.Kind, self, owner ObjectRef, hasOwner bool, info kinds.Info) {
	if info.CurrentRevision != 0 {
		x.current[self.UID] = info.CurrentRevision
	}
	if !hasOwner {
		return
	}
	if k.IntermediateOwner {
		x.parent[self.UID] = owner
	}
	if info.History != kinds.NoHistory && info.Revision > x.newest[info.History][owner.UID] {
		x.newest[info.History][owner.UID] = info.Revision
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
// A scan keeps one per reference (tens of thousands): the owner is a pointer to its
// interned copy, not five strings of its own.
type pending struct {
	owner    *ObjectRef // nil: no controlling owner
	revision int64
	history  kinds.History
	active   bool
}

// resolve fills in owner chains and the roles of revision-history entries, in place.
// References with the same owner share one chain slice.
func (s *scan) resolve() []Reference {
	chains := map[*ObjectRef][]ObjectRef{}
	for i := range s.found {
		p := &s.pending[i]
		if p.owner == nil {
			// An object another takes its pod template from (a Deployment named by an
			// Argo Rollout's workloadRef) counts as owned by it.
			r := &s.found[i]
			if u, ok := s.templateUsers[r.Object.Kind+"/"+r.Object.Namespace+"/"+r.Object.Name]; ok {
				r.Owners = []ObjectRef{u}
			}
			continue
		}
		chain, ok := chains[p.owner]
		if !ok {
			chain = s.owners.chain(*p.owner)
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
	case kinds.ReplicaSetHistory:
		if p.active {
			return RoleLive
		}
		cur, ok := x.current[p.owner.UID]
		if !ok {
			cur = x.newest[kinds.ReplicaSetHistory][p.owner.UID]
		}
		if p.revision == cur {
			return RoleLive
		}
		return RoleRollbackTarget
	case kinds.ControllerRevisionHistory:
		if p.revision == x.newest[kinds.ControllerRevisionHistory][p.owner.UID] {
			return RoleLive
		}
		return RoleRollbackTarget
	}
	return role
}
