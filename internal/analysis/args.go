package analysis

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// argName is what {{args.NAME}} can name.
var argName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Facts are the rotation's own arguments, available to every analysis as
// {{args.family}}, {{args.version}} and {{args.namespace}}.
type Facts struct {
	Family, Version, Namespace string
}

// ParseArgs reads NAME=VALUE pairs (the --arg flag). Errors name a pair by its
// position, never its text: a value may be a credential.
func ParseArgs(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for i, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("--arg #%d has no NAME= part (it is not shown, in case it is a value): write it as NAME=VALUE", i+1)
		}
		if !argName.MatchString(name) {
			return nil, fmt.Errorf("--arg #%d: the name is not valid (it is not shown, in case it is a value): letters, digits, '-', '_' and '.'", i+1)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--arg %s is given twice", name)
		}
		out[name] = value
	}
	return out, nil
}

// MergeArgs adds the rotation's facts to the user's arguments. A user argument may not
// name a fact with another value: the facts come from the rotation.
func MergeArgs(user map[string]string, f Facts) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range user {
		out[k] = v
	}
	facts := map[string]string{"family": f.Family, "version": f.Version, "namespace": f.Namespace}
	names := make([]string, 0, len(facts))
	for k := range facts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := facts[k]
		if v == "" {
			continue
		}
		if u, ok := user[k]; ok && u != v {
			return nil, fmt.Errorf("--arg %s conflicts with the rotation's %s %q: rotor sets %s itself; use another argument name", k, k, v, k)
		}
		out[k] = v
	}
	return out, nil
}
