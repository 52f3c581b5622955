package versions

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rotor-project/rotor/internal/family"
)

var now = time.Date(2025, 8, 1, 12, 0, 0, 0, time.UTC)

func at(day int) family.Version {
	return family.NewVersion("db", time.Date(2025, 7, day, 0, 0, 0, 0, time.UTC))
}

func trusted(ns string, v family.Version) Info {
	return Info{Namespace: ns, Name: v.Name(), Version: v, Trust: TrustCreated, CreationTimestamp: v.Time}
}

func TestSortAndClassify(t *testing.T) {
	future := family.NewVersion("db", now.Add(MaxSkew+time.Second))
	nearFuture := family.NewVersion("db", now.Add(MaxSkew-time.Second))
	tests := []struct {
		name  string
		infos []Info
		want  string
	}{
		{"trusted versions rank newest first, unversioned last, per namespace",
			[]Info{trusted("b", at(1)), {Namespace: "a", Name: "db", State: StateUnversioned}, trusted("a", at(1)), trusted("a", at(3)), trusted("a", at(2))},
			"a/db-20250703000000:latest a/db-20250702000000:previous a/db-20250701000000:older a/db:unversioned b/db-20250701000000:latest"},
		{"a newer look-alike without rotor's labels is untrusted and never latest",
			[]Info{trusted("a", at(1)), {Namespace: "a", Name: at(9).Name(), Version: at(9), Trust: TrustNone, CreationTimestamp: at(9).Time}},
			"a/db-20250701000000:latest a/db-20250709000000:untrusted"},
		{"an adopted version ranks like a created one",
			[]Info{trusted("a", at(1)), {Namespace: "a", Name: at(2).Name(), Version: at(2), Trust: TrustAdopted, CreationTimestamp: at(2).Time}},
			"a/db-20250702000000:latest a/db-20250701000000:previous"},
		{"a version named beyond the skew in the future is never latest",
			[]Info{trusted("a", at(1)), {Namespace: "a", Name: future.Name(), Version: future, Trust: TrustCreated, CreationTimestamp: now}},
			"a/db-20250701000000:latest a/" + future.Name() + ":future"},
		{"a version named within the skew is fine",
			[]Info{trusted("a", at(1)), {Namespace: "a", Name: nearFuture.Name(), Version: nearFuture, Trust: TrustCreated, CreationTimestamp: now}},
			"a/" + nearFuture.Name() + ":latest a/db-20250701000000:previous"},
		{"a version named long after its own creation is future-dated even when that time has passed",
			[]Info{trusted("a", at(1)), {Namespace: "a", Name: at(20).Name(), Version: at(20), Trust: TrustCreated, CreationTimestamp: at(2).Time}},
			"a/db-20250701000000:latest a/db-20250720000000:future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sortAndClassify(tt.infos, now)
			var got []string
			for _, i := range tt.infos {
				got = append(got, fmt.Sprintf("%s/%s:%s", i.Namespace, i.Name, i.State))
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Fatalf("got  %s\nwant %s", g, tt.want)
			}
		})
	}
}

func TestTrustOf(t *testing.T) {
	v := at(1)
	long := family.NewVersion(strings.Repeat("f", 70), v.Time)
	tests := []struct {
		name        string
		v           family.Version
		labels      map[string]string
		annotations map[string]string
		want        Trust
	}{
		{"rotor's three labels make a created version", v, family.Labels(v), nil, TrustCreated},
		{"the adoption annotation makes an adopted one", v, family.Labels(v), map[string]string{AnnotationAdoptedBy: "alice"}, TrustAdopted},
		{"no labels: a look-alike", v, nil, nil, TrustNone},
		{"another family's label: a look-alike", v, map[string]string{family.LabelManagedBy: "rotor", family.LabelFamily: "other", family.LabelVersion: v.Timestamp()}, nil, TrustNone},
		{"a version label of another time: a look-alike", v, map[string]string{family.LabelManagedBy: "rotor", family.LabelFamily: "db", family.LabelVersion: "20990101000000"}, nil, TrustNone},
		{"managed by someone else: a look-alike", v, map[string]string{family.LabelManagedBy: "helm", family.LabelFamily: "db", family.LabelVersion: v.Timestamp()}, nil, TrustNone},
		{"a long family's hashed label with its annotation", long, family.Labels(long), map[string]string{"rotor.dev/family": long.Family}, TrustCreated},
		{"a long family's hashed label with another family's annotation", long, family.Labels(long), map[string]string{"rotor.dev/family": "other"}, TrustNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TrustOf(tt.v, tt.labels, tt.annotations); got != tt.want {
				t.Fatalf("TrustOf = %s, want %s", got, tt.want)
			}
		})
	}
}
