// Package gitops rotates Secret versions through git: it finds every reference to a
// version of a family in a directory of manifests (YAML and JSON, as a GitOps engine
// applies them), rewrites them to another version, shows the change as a unified diff,
// writes it, and commits it with the real git binary.
//
// "Secrets don't belong in git; Secret references do." A rotation in a GitOps repository
// is therefore a change of *names*, and this package changes nothing else: it parses each
// file with yaml.v3 only to find where each reference's scalar is (line and column), then
// splices the new name into the original bytes at exactly that scalar. Comments, key
// order, indentation, quoting, anchors, flow style, line endings and document separators
// are kept byte for byte; setting a version and then setting the previous one back gives
// the original file. A reference whose scalar cannot be spliced safely (a block scalar,
// an escaped string) stops the rewrite with its file and line, rather than guess.
//
// What is rewritten (see docs/gitops.md):
//   - every place the kinds registry knows in every object of every document (Lists
//     included): pod-spec kinds, ServiceAccounts, Ingress TLS, well-known annotations
//     (only the name of a "namespace/name" value), PersistentVolumes, StorageClasses,
//     Gateways, Argo Rollouts, and an ExternalSecret's spec.target.name when the
//     ExternalSecret itself has a stable name;
//   - kustomize patches written inline in a kustomization (patches[].patch,
//     patchesStrategicMerge, patchesJson6902[].patch; also a Flux Kustomization's
//     spec.patches): strategic-merge patches are walked like objects, JSON 6902 operations
//     whose value names a Secret at a Secret-name path are rewritten; JSON 6902 patch files
//     likewise. Patch files named by path are ordinary files under the directory.
//
// What is left alone, and reported:
//   - manifests that define a version (a Secret or an ExternalSecret named like a
//     version, or a kustomize secretGenerator of that name): a new version is a new
//     object, never an edit of the old one (ESO pins the remote version per object);
//   - references to the unversioned Secret named exactly FAMILY (adopt it first);
//   - files that cannot be parsed (Helm templates: every file under a chart's templates/
//     directory is reported without being parsed), symbolic links, oversized files.
//
// Nothing is written when any file under the directory holds a Secret with data or
// stringData, or a secretGenerator with literals: values do not belong in git, and rotor
// will not add a commit to a repository that has them.
//
// The package never prints, reads flags or exits; Diff writes to the writer it is given.
package gitops

import (
	"fmt"
	"strings"

	"github.com/rotor-project/rotor/internal/secretref"
)

// ObjectRef names the object a reference is in.
type ObjectRef struct {
	Kind       string
	APIVersion string
	Namespace  string
	Name       string
}

// String is "Kind/name" or "Kind/namespace/name".
func (o ObjectRef) String() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Reference is one place in a file that names a Secret of the family.
type Reference struct {
	// File is the path of the file (the root joined with its relative path).
	File string
	// Line and Column are 1-based, of the name's scalar in the file.
	Line, Column int
	// Object is the object the reference is in; for a kustomize patch, the object the
	// patch applies to (as far as the patch names it).
	Object ObjectRef
	// Path is secretref's field path (or a JSON 6902 operation's path).
	Path   string
	Secret string
	Style  secretref.Style
	// Via is "" for a reference in an object itself, or what carries it, e.g.
	// "kustomization patches[0]".
	Via string
}

// Location is a place in a file.
type Location struct {
	File   string
	Line   int
	Object ObjectRef
	Reason string
}

func (l Location) String() string {
	s := l.File
	if l.Line > 0 {
		s = fmt.Sprintf("%s:%d", l.File, l.Line)
	}
	if l.Object.Kind != "" {
		s += " (" + l.Object.String() + ")"
	}
	if l.Reason != "" {
		s += ": " + l.Reason
	}
	return s
}

// ValuesInGitError refuses a rewrite: files under the directory hold Secret values.
type ValuesInGitError struct{ Locations []Location }

func (e *ValuesInGitError) Error() string {
	parts := make([]string, len(e.Locations))
	for i, l := range e.Locations {
		parts[i] = "  " + l.String()
	}
	return fmt.Sprintf("refusing to rewrite: Secret values are committed under the directory, and rotor will not add a commit to it:\n%s\n"+
		"move the values to a store (External Secrets, Sealed Secrets, SOPS) or create versions with rotor create, and remove them from git",
		strings.Join(parts, "\n"))
}

// UnrewritableError refuses a rewrite: references whose bytes cannot be changed safely.
type UnrewritableError struct{ Locations []Location }

func (e *UnrewritableError) Error() string {
	parts := make([]string, len(e.Locations))
	for i, l := range e.Locations {
		parts[i] = "  " + l.String()
	}
	return fmt.Sprintf("refusing to rewrite: these references cannot be changed without re-formatting their files:\n%s\n"+
		"write them as plain or simply quoted names on one line, or change them by hand; nothing was written", strings.Join(parts, "\n"))
}

// InvalidVersionError refuses a target that is not a version of the family.
type InvalidVersionError struct{ Family, To string }

func (e *InvalidVersionError) Error() string {
	return fmt.Sprintf("%q is not a version of %s: a version is named %s-YYYYMMDDHHMMSS (list them with: rotor versions %s)", e.To, e.Family, e.Family, e.Family)
}
