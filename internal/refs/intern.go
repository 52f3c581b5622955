package refs

import (
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// interner keeps one copy of each string the scan stores: field paths, pointers,
// Secret names, namespaces, containers, owners' names and UIDs repeat across tens of
// thousands of references, and each decoded object carries its own copies. Not safe
// for concurrent use: the scan calls it under its lock.
type interner struct {
	strs map[string]string
	keys map[string][]string
	refs map[ObjectRef]*ObjectRef
}

func newInterner() interner {
	return interner{strs: map[string]string{}, keys: map[string][]string{}, refs: map[ObjectRef]*ObjectRef{}}
}

// str returns the stored copy of s, storing s if it is new.
func (in interner) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	in.strs[s] = s
	return s
}

func (in interner) uid(u types.UID) types.UID { return types.UID(in.str(string(u))) }

// stringSlice returns a shared copy of keys; callers must not modify it.
func (in interner) stringSlice(keys []string) []string {
	if len(keys) == 0 {
		return nil
	}
	k := keys[0]
	if len(keys) > 1 {
		k = strings.Join(keys, "\x00")
	}
	if v, ok := in.keys[k]; ok {
		return v
	}
	v := make([]string, len(keys))
	for i, s := range keys {
		v[i] = in.str(s)
	}
	in.keys[k] = v
	return v
}

// objectRef returns o with its repeated strings interned. Kind and APIVersion of the
// scanned kinds are constants already; those of owner references are not.
func (in interner) objectRef(o ObjectRef) ObjectRef {
	return ObjectRef{Kind: in.str(o.Kind), APIVersion: in.str(o.APIVersion), Namespace: in.str(o.Namespace),
		Name: in.str(o.Name), UID: in.uid(o.UID)}
}

// owner returns the one stored copy of o (interned): the references of the many
// objects one owner controls (a ReplicaSet's Pods) point to it instead of each
// carrying its five strings.
func (in interner) owner(o ObjectRef) *ObjectRef {
	if p, ok := in.refs[o]; ok {
		return p
	}
	p := new(in.objectRef(o))
	in.refs[*p] = p
	return p
}
