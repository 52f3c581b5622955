package gitops

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/rotor-project/rotor/internal/family"
)

// Plan is a rewrite worked out in memory: what each changed file will hold.
type Plan struct {
	Root   string
	Family string
	To     string
	// From are the versions replaced, sorted.
	From []string
	// Changes are the files that change, in path order.
	Changes []FileChange
	// Scan is what the rewrite was computed from (its notes: unversioned references,
	// producers, skipped files).
	Scan *Scan
}

// FileChange is one file's old and new content.
type FileChange struct {
	File string
	Mode fs.FileMode
	Old  []byte
	New  []byte
	// Edits are the references changed in it.
	Edits []Edit
}

// Edit is one reference changed.
type Edit struct {
	Reference
	To string
}

// SetOptions narrow a rewrite.
type SetOptions struct {
	// Select, when set, rewrites only the references it accepts (e.g. one workload, for
	// a step of a blue-green rotation); nil rewrites every one.
	Select func(Reference) bool
}

// Set works out the rewrite of every (selected) reference to a version of the family
// into to. It writes nothing. It refuses, with a typed error, when to is not a version
// of the family (*InvalidVersionError), when files hold Secret values
// (*ValuesInGitError), or when a selected reference cannot be spliced
// (*UnrewritableError). References that already name to are left as they are.
func (s *Scan) Set(to string, opts SetOptions) (*Plan, error) {
	if _, ok := family.ParseIn(s.Family, to); !ok {
		return nil, &InvalidVersionError{Family: s.Family, To: to}
	}
	if len(s.ValuesInGit) > 0 {
		return nil, &ValuesInGitError{Locations: s.ValuesInGit}
	}
	selected := map[int]bool{}
	for i, r := range s.References {
		if opts.Select == nil || opts.Select(r) {
			selected[i] = true
		}
	}
	p := &Plan{Root: s.Root, Family: s.Family, To: to, Scan: s}
	from := map[string]bool{}
	var bad []Location
	paths := make([]string, 0, len(s.files))
	for path := range s.files {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		f := s.files[path]
		for _, u := range f.unrewritable {
			if ref, ok := s.refAt(u); !ok || selected[ref] {
				bad = append(bad, u)
			}
		}
		var spans []span
		var edits []Edit
		for _, sp := range f.sortedSpans() {
			var mine, others []int
			for _, i := range sp.refs {
				switch {
				case s.References[i].Secret == to:
				case selected[i]:
					mine = append(mine, i)
				default:
					others = append(others, i)
				}
			}
			if len(mine) == 0 {
				continue
			}
			if len(others) > 0 {
				// One scalar (an anchor and its aliases) named by a reference that is
				// selected and one that is not: splicing it would change both.
				r, o := s.References[mine[0]], s.References[others[0]]
				bad = append(bad, Location{File: r.File, Line: r.Line, Object: r.Object,
					Reason: fmt.Sprintf("%s: the name is shared (a YAML anchor and its aliases) with %s %s, which this change leaves alone", r.Path, o.Object, o.Path)})
				continue
			}
			spans = append(spans, sp)
			for _, i := range mine {
				edits = append(edits, Edit{Reference: s.References[i], To: to})
				from[s.References[i].Secret] = true
			}
		}
		if len(spans) == 0 {
			continue
		}
		p.Changes = append(p.Changes, FileChange{File: path, Mode: f.mode, Old: f.data, New: splice(f.data, spans, to), Edits: edits})
	}
	if len(bad) > 0 {
		return nil, &UnrewritableError{Locations: bad}
	}
	for v := range from {
		p.From = append(p.From, v)
	}
	sort.Strings(p.From)
	if err := p.verify(); err != nil {
		return nil, err
	}
	return p, nil
}

// refAt finds the reference an unrewritable location was made for.
func (s *Scan) refAt(l Location) (int, bool) {
	for i, r := range s.References {
		if r.File == l.File && r.Line == l.Line && r.Object == l.Object {
			return i, true
		}
	}
	return 0, false
}

// verify re-reads every new file and checks that it parses and that exactly the edited
// references changed: a last guard against a splice that broke a file.
func (p *Plan) verify() error {
	for _, c := range p.Changes {
		re := &Scan{Root: p.Root, Family: p.Family, files: map[string]*sourceFile{}}
		re.parse(c.File, c.Mode, c.New)
		if len(re.Skipped) > 0 {
			return fmt.Errorf("internal error: the rewrite of %s does not parse any more (%s); nothing was written; please report this", c.File, re.Skipped[0].Reason)
		}
		old := p.Scan.refsIn(c.File)
		now := re.refsIn(c.File)
		if len(old) != len(now) {
			return fmt.Errorf("internal error: the rewrite of %s changed the number of references (%d to %d); nothing was written; please report this", c.File, len(old), len(now))
		}
		edited := map[[2]int]bool{}
		for _, e := range c.Edits {
			edited[[2]int{e.Line, e.Column}] = true
		}
		for i := range old {
			want := old[i].Secret
			if edited[[2]int{old[i].Line, old[i].Column}] {
				want = p.To
			}
			if now[i].Secret != want {
				return fmt.Errorf("internal error: after the rewrite %s:%d names %s, not %s; nothing was written; please report this", c.File, now[i].Line, now[i].Secret, want)
			}
		}
	}
	return nil
}

func (s *Scan) refsIn(file string) []Reference {
	var out []Reference
	for _, r := range s.References {
		if r.File == file {
			out = append(out, r)
		}
	}
	return out
}

// Write writes every changed file in place (a temporary file renamed over it, mode
// kept). A file that changed since it was read is not overwritten: Write stops with an
// error naming it (files before it in path order are already written).
func (p *Plan) Write() error {
	for _, c := range p.Changes {
		cur, err := os.ReadFile(c.File)
		if err != nil {
			return fmt.Errorf("cannot re-read %s before writing it: %w", c.File, err)
		}
		if !bytes.Equal(cur, c.Old) {
			return fmt.Errorf("%s changed since rotor read it; run the command again", c.File)
		}
		tmp, err := os.CreateTemp(filepath.Dir(c.File), ".rotor-*")
		if err != nil {
			return fmt.Errorf("cannot write next to %s: %w", c.File, err)
		}
		_, werr := tmp.Write(c.New)
		cerr := tmp.Close()
		if werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), c.Mode.Perm())
		}
		if werr == nil {
			werr = os.Rename(tmp.Name(), c.File)
		}
		if werr != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("cannot write %s: %w", c.File, werr)
		}
	}
	return nil
}

// Edits are every reference the plan changes, in file order.
func (p *Plan) Edits() []Edit {
	var out []Edit
	for _, c := range p.Changes {
		out = append(out, c.Edits...)
	}
	return out
}

// Set scans root for fam and works out the rewrite to to: ScanDir, then Scan.Set. It is
// what a GitOps step calls before Write and Git.Commit.
func Set(root, fam, to string, opts SetOptions) (*Plan, error) {
	s, err := ScanDir(root, fam)
	if err != nil {
		return nil, err
	}
	return s.Set(to, opts)
}
