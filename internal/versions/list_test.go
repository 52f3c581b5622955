package versions

import (
	"testing"
	"time"

	"github.com/rotor-project/rotor/internal/family"
)

func TestSortAndClassify(t *testing.T) {
	at := func(day int) family.Version {
		return family.NewVersion("db", time.Date(2025, 7, day, 0, 0, 0, 0, time.UTC))
	}
	infos := []Info{
		{Namespace: "b", Name: "db-1", Version: at(1)},
		{Namespace: "a", Name: "db", State: StateUnversioned},
		{Namespace: "a", Name: "db-1", Version: at(1)},
		{Namespace: "a", Name: "db-3", Version: at(3)},
		{Namespace: "a", Name: "db-2", Version: at(2)},
	}
	sortAndClassify(infos)
	want := []struct {
		ns, name string
		state    State
	}{
		{"a", "db-3", StateLatest},
		{"a", "db-2", StatePrevious},
		{"a", "db-1", StateOlder},
		{"a", "db", StateUnversioned},
		{"b", "db-1", StateLatest},
	}
	for i, w := range want {
		if infos[i].Namespace != w.ns || infos[i].Name != w.name || infos[i].State != w.state {
			t.Fatalf("row %d = %s/%s %s, want %s/%s %s", i, infos[i].Namespace, infos[i].Name, infos[i].State, w.ns, w.name, w.state)
		}
	}
}
