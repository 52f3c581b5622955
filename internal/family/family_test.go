package family

import (
	"strings"
	"testing"
	"time"
)

func TestNewVersionName(t *testing.T) {
	tests := []struct {
		name   string
		family string
		at     time.Time
		want   string
	}{
		{"a UTC instant is encoded as 14 digits", "auth-api-secrets", time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC), "auth-api-secrets-20250723110000"},
		{"sub-second precision is truncated, not rounded", "db", time.Date(2025, 7, 23, 11, 0, 59, 999_999_999, time.UTC), "db-20250723110059"},
		{"a non-UTC instant is converted to UTC first", "db", time.Date(2025, 7, 23, 13, 0, 0, 0, time.FixedZone("CEST", 2*3600)), "db-20250723110000"},
		{"a family with dots is kept as is", "api.example.com", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "api.example.com-20260102030405"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewVersion(tt.family, tt.at).Name(); got != tt.want {
				t.Fatalf("Name() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseIn(t *testing.T) {
	tests := []struct {
		name   string
		family string
		secret string
		ok     bool
		want   time.Time
	}{
		{"a family name plus a valid timestamp is a version", "auth", "auth-20250723110000", true, time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC)},
		{"a version of a family that itself ends in digits is found", "auth-v2", "auth-v2-20250723110000", true, time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC)},
		{"a non-numeric suffix is not a version", "auth", "auth-foo", false, time.Time{}},
		{"a longer family sharing the prefix is another family", "auth", "authx-20250723110000", false, time.Time{}},
		{"a month 13 is not a timestamp", "auth", "auth-20251399999999", false, time.Time{}},
		{"February 30 is not a timestamp", "auth", "auth-20250230000000", false, time.Time{}},
		{"hour 24 is not a timestamp", "auth", "auth-20250101240000", false, time.Time{}},
		{"second 60 is not a timestamp", "auth", "auth-20250101235960", false, time.Time{}},
		{"13 digits are not a timestamp", "auth", "auth-2025072311000", false, time.Time{}},
		{"15 digits are not a timestamp", "auth", "auth-202507231100000", false, time.Time{}},
		{"a suffix after the timestamp is not a version", "auth", "auth-20250723110000-old", false, time.Time{}},
		{"a prefix before the family is another family", "auth", "xauth-20250723110000", false, time.Time{}},
		{"the unversioned family name is not a version", "auth", "auth", false, time.Time{}},
		{"non-ASCII digits are not digits", "auth", "auth-２0250723110000", false, time.Time{}},
		{"a leap day in a leap year is valid", "auth", "auth-20240229000000", true, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"a leap day in a common year is not", "auth", "auth-20250229000000", false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := ParseIn(tt.family, tt.secret)
			if ok != tt.ok {
				t.Fatalf("ParseIn(%q, %q) ok = %v, want %v", tt.family, tt.secret, ok, tt.ok)
			}
			if ok && (!v.Time.Equal(tt.want) || v.Family != tt.family || v.Name() != tt.secret) {
				t.Fatalf("ParseIn(%q, %q) = %+v, want time %v and a round trip", tt.family, tt.secret, v, tt.want)
			}
		})
	}
}

func TestValidateFamily(t *testing.T) {
	tests := []struct {
		name    string
		family  string
		wantErr string
	}{
		{"a DNS-1123 subdomain is valid", "auth-api-secrets", ""},
		{"the longest family that still fits is valid", strings.Repeat("a", MaxFamilyLength), ""},
		{"one character more does not fit 253", strings.Repeat("a", MaxFamilyLength+1), "at most 238 fit"},
		{"an empty family is refused", "", "empty"},
		{"upper case is refused", "Auth", "not a valid family name"},
		{"an underscore is refused", "auth_api", "not a valid family name"},
		{"a leading dash is refused", "-auth", "not a valid family name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateFamily(tt.family)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLabelValue(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name   string
		family string
		check  func(string) bool
	}{
		{"a short family is its own label value", "auth", func(v string) bool { return v == "auth" }},
		{"a 63-character family is its own label value", strings.Repeat("b", 63), func(v string) bool { return v == strings.Repeat("b", 63) }},
		{"a longer family becomes a 63-character hash", long, func(v string) bool { return len(v) == 63 && strings.HasPrefix(v, "sha256-") }},
		{"different long families get different hashes", long, func(v string) bool { return v != LabelValue(long+"b") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := LabelValue(tt.family); !tt.check(v) {
				t.Fatalf("LabelValue(%q) = %q", tt.family, v)
			}
		})
	}
}

// FuzzParse checks that the parser never panics, that everything it accepts round-trips
// to the same name, and that every accepted family is valid.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"auth-20250723110000", "auth-20251399999999", "a-b-20240229000000", "-20250101000000", "x", "auth-20250723110000-old"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, ok := Parse(name)
		if !ok {
			return
		}
		if v.Name() != name {
			t.Fatalf("Parse(%q) round-trips to %q", name, v.Name())
		}
		if err := ValidateFamily(v.Family); err != nil {
			t.Fatalf("Parse(%q) accepted an invalid family: %v", name, err)
		}
		if v2, ok := ParseIn(v.Family, name); !ok || !v2.Time.Equal(v.Time) {
			t.Fatalf("ParseIn disagrees with Parse for %q", name)
		}
	})
}
