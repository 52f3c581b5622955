package retention

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Duration
		err  string
	}{
		{"days are 24 hours", "14d", 14 * Day, ""},
		{"weeks are seven days", "2w", 14 * Day, ""},
		{"hours are Go's hours", "336h", 336 * time.Hour, ""},
		{"weeks and days combine", "1w3d", 10 * Day, ""},
		{"days and Go units combine", "1d12h", 36 * time.Hour, ""},
		{"seconds work for short test retentions", "90s", 90 * time.Second, ""},
		{"zero is allowed", "0d", 0, ""},
		{"surrounding spaces are ignored", " 14d ", 14 * Day, ""},
		{"empty is refused", "", 0, "empty retention period"},
		{"negative is refused", "-1d", 0, "negative"},
		{"a number without unit is refused", "14", 0, "cannot read retention period"},
		{"an unknown unit is refused", "3y", 0, "cannot read retention period"},
		{"a unit without number is refused", "d", 0, "cannot read retention period"},
		{"a fraction of a day is refused", "1.5d", 0, "cannot read retention period"},
		{"an absurd length is refused", "99999999999999w", 0, "too long"},
		{"an absurd length in Go's units is refused as in weeks", "90000000m", 0, "too long"},
		{"the longest whole-week period is accepted", "7625w", 7625 * Week, ""},
		{"a day more is refused", "7625w1d", 0, "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"whole weeks print as weeks", 14 * Day, "2w"},
		{"weeks and days print together", 10 * Day, "1w3d"},
		{"days print as days", 3 * Day, "3d"},
		{"partial days print as Go durations", 36 * time.Hour, "36h0m0s"},
		{"zero prints as 0s", 0, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatDuration(tt.in); got != tt.want {
				t.Fatalf("FormatDuration(%v) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzParseDuration checks that the retention parser never panics, never returns a
// negative period, and that whatever it accepts in whole days prints back to the same
// period.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"14d", "2w", "1w3d", "336h", "1d12h", "90m", "-3d", "", "two weeks", "9223372036854775807w", "1.5h", "0d", "99999w", "1d-1h", "d", "5", "90000000m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v: negative", s, d)
		}
		back, err := ParseDuration(FormatDuration(d))
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v prints as %q, which reads back as %v (%v)", s, d, FormatDuration(d), back, err)
		}
	})
}
