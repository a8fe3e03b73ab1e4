package stages

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	tests := []struct {
		name    string
		content string
		n       int
		want    []string
	}{
		{"fewer lines than n", "a\nb\n", 5, []string{"a", "b"}},
		{"last n", "1\n2\n3\n4\n5\n", 2, []string{"4", "5"}},
		{"no final newline", "1\n2\n3", 2, []string{"2", "3"}},
		{"blank lines kept inside", "a\n\nb\n", 3, []string{"a", "", "b"}},
		{"leading blank lines dropped", "\n\nerror\n", 3, []string{"error"}},
		{"trailing blank lines dropped", "x\ny\n\n\n", 2, []string{"x", "y"}},
		{"empty file", "", 3, []string{}},
		{"zero lines", "a\nb\n", 0, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got := Tail(path, tt.n)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Tail(%q, %d) = %q, want %q", tt.content, tt.n, got, tt.want)
			}
		})
	}
}

func TestTailMissingFile(t *testing.T) {
	if got := Tail(filepath.Join(t.TempDir(), "absent"), 5); got != nil {
		t.Errorf("Tail of a missing file = %q, want nil", got)
	}
}

// Tail reads only the end of a log larger than tailBytes. Every line it
// returns must still be a whole line of the log.
func TestTailLargeLog(t *testing.T) {
	var b strings.Builder
	whole := map[string]bool{}
	for i := 0; b.Len() <= 3*tailBytes; i++ {
		line := fmt.Sprintf("line %06d %s", i, strings.Repeat("x", 90))
		whole[line] = true
		b.WriteString(line + "\n")
	}
	b.WriteString("last line\n")
	whole["last line"] = true
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	got := Tail(path, 3)
	if len(got) != 3 || got[2] != "last line" {
		t.Fatalf("Tail(3) = %q, want 3 lines ending with %q", got, "last line")
	}
	all := Tail(path, 1<<20)
	if len(all) == 0 {
		t.Fatal("Tail of a large log returned nothing")
	}
	for _, line := range all {
		if !whole[line] {
			t.Errorf("Tail returned %q, which is not a whole line of the log", line)
		}
	}
}
