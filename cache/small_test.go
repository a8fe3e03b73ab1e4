package cache

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPutSmallFile(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		want    func(data []byte) Digest // the digest the caller hashed
		wantErr string
	}{
		{"small", []byte("a few bytes\n"), SumBytes, ""},
		{"empty", nil, SumBytes, ""},
		{"larger than read whole", bytes.Repeat([]byte("0123456789abcdef"), smallFileMax/16+1), SumBytes, ""},
		{"changed since hashed", []byte("new contents\n"), func([]byte) Digest { return SumBytes([]byte("old contents\n")) }, "changed after it was hashed"},
		{"large and changed", bytes.Repeat([]byte("x"), smallFileMax+1), func([]byte) Digest { return SumBytes([]byte("y")) }, "changed after it was hashed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			path := filepath.Join(t.TempDir(), "src")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			want := tt.want(tt.data)
			size, err := s.PutSmallFile(path, want)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PutSmallFile error = %v, want one containing %q", err, tt.wantErr)
				}
				if s.HasBlob(want) {
					t.Errorf("a blob named %s was stored for contents that do not hash to it", want)
				}
				return
			}
			if err != nil {
				t.Fatalf("PutSmallFile: %v", err)
			}
			if size != int64(len(tt.data)) {
				t.Errorf("size = %d, want %d", size, len(tt.data))
			}
			got, err := s.ReadBlob(want)
			if err != nil {
				t.Fatalf("ReadBlob: %v", err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Errorf("stored %d bytes that differ from the file's %d", len(got), len(tt.data))
			}
			if bs, ok := s.BlobSize(want); !ok || bs != size {
				t.Errorf("BlobSize = %d, %v; want %d, true", bs, ok, size)
			}
			if left, _ := os.ReadDir(filepath.Join(s.Root(), "tmp")); len(left) != 0 {
				t.Errorf("temp files left behind: %d", len(left))
			}
		})
	}
}
