package cache

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestDigestHexRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"short", "abc"},
		{"binary", "\x00\xff\n\x7f"},
		{"long", strings.Repeat("mlb", 100000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := SumBytes([]byte(tt.data))
			text := d.String()
			if len(text) != 64 || strings.ToLower(text) != text {
				t.Fatalf("String() = %q, want 64 lowercase hex characters", text)
			}
			got, err := ParseDigest(text)
			if err != nil {
				t.Fatalf("ParseDigest(%q): %v", text, err)
			}
			if got != d {
				t.Errorf("ParseDigest(String()) = %s, want %s", got, d)
			}
			upper, err := ParseDigest(strings.ToUpper(text))
			if err != nil || upper != d {
				t.Errorf("ParseDigest(upper case) = %s, %v; want %s", upper, err, d)
			}
		})
	}
}

// The digest of the empty string is BLAKE3-256's published test vector, so
// a change of hash function or output length cannot go unnoticed.
func TestDigestEmptyIsBLAKE3(t *testing.T) {
	const want = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
	if got := SumBytes(nil).String(); got != want {
		t.Errorf("SumBytes(nil) = %s, want %s", got, want)
	}
}

func TestParseDigestInvalid(t *testing.T) {
	valid := SumBytes([]byte("x")).String()
	tests := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"short", valid[:63]},
		{"long", valid + "0"},
		{"non-hex", "g" + valid[1:]},
		{"spaces", " " + valid[1:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d, err := ParseDigest(tt.text); err == nil {
				t.Errorf("ParseDigest(%q) = %s, want an error", tt.text, d)
			}
		})
	}
}

func TestDigestJSONRoundTrip(t *testing.T) {
	type doc struct {
		Digest Digest    `json:"digest"`
		Key    ActionKey `json:"key"`
	}
	in := doc{Digest: SumBytes([]byte("blob")), Key: ActionKey(SumBytes([]byte("key")))}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"`+in.Digest.String()+`"`)) {
		t.Errorf("JSON %s does not hold the digest as a hex string", b)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"digest":"abc"}`), &out); err == nil {
		t.Error("unmarshal of a 3-character digest succeeded, want an error")
	}
}

func TestHashFile(t *testing.T) {
	tests := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"small", 10},
		{"over buffer", hashBufferSize*2 + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{'q'}, tt.size)
			path := filepath.Join(t.TempDir(), "f")
			writeFile(t, path, string(data), 0o644)
			d, n, err := HashFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(tt.size) {
				t.Errorf("size = %d, want %d", n, tt.size)
			}
			if want := SumBytes(data); d != want {
				t.Errorf("digest = %s, want %s", d, want)
			}
		})
	}
}

func TestDigestIsZero(t *testing.T) {
	if !(Digest{}).IsZero() {
		t.Error("zero Digest: IsZero() = false")
	}
	if SumBytes(nil).IsZero() {
		t.Error("digest of empty data: IsZero() = true")
	}
}
