package remote

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckURL checks that every malformed URL is a *URLError with the
// URL, the mistake and the form to use, and that a well-formed URL passes
// without anything being created.
func TestCheckURL(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent")
	tests := []struct {
		url      string
		redacted string // URLError.URL; "" for a well-formed URL
		problem  string
		fix      string // a part of URLError.Fix
	}{
		{"file://" + missing, "", "", ""},
		{"file://./cache", "", "", ""},
		{"s3://bucket/folder?region=us-east-1", "", "", ""},
		{"gs://bucket", "", "", ""},
		{"azblob://container/folder", "", "", ""},
		{"nosuch://x", "nosuch://x", `unknown scheme "nosuch"`, "use s3://BUCKET[/FOLDER], gs://BUCKET[/FOLDER] or azblob://CONTAINER[/FOLDER]"},
		{"ftp://host/folder", "ftp://host/folder", `unknown scheme "ftp"`, ", or file:///ABSOLUTE/PATH"},
		{"cache", "cache", "no scheme", "use s3://"},
		{" ", " ", "no scheme", "use s3://"},
		{"::", "::", "missing protocol scheme", "use s3://"},
		{"s3://", "s3://", "names no bucket", "use s3://BUCKET[/FOLDER]"},
		{"gs:///folder", "gs:///folder", "names no bucket", "use gs://BUCKET[/FOLDER]"},
		{"azblob://", "azblob://", "names no bucket", "use azblob://CONTAINER[/FOLDER]"},
		{"s3://KEY:hunter2secret@bucket", "s3://bucket", "contains user info, left out of this message", "remove it"},
		{"s3://KEY:hunter2%zz@bucket", "(unparsable URL)", `invalid URL escape "%zz"`, "use s3://"},
		{"file://host/folder", "file://host/folder", "a file URL needs an absolute path", "use file:///ABSOLUTE/PATH"},
		{"file:relative", "file:relative", "a file URL needs an absolute path", "use file:///ABSOLUTE/PATH"},
		{"file:///srv/cache?bogus=1", "file:///srv/cache", `unknown query parameter "bogus"`, "use create_dir, dir_file_mode, metadata or no_tmp_dir"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckURL(tt.url)
			if tt.redacted == "" {
				if err != nil {
					t.Fatalf("CheckURL = %v, want nil", err)
				}
				return
			}
			var ue *URLError
			if !errors.As(err, &ue) {
				t.Fatalf("CheckURL = %v (%T), want a *URLError", err, err)
			}
			if ue.URL != tt.redacted {
				t.Errorf("URL = %q, want %q", ue.URL, tt.redacted)
			}
			if ue.Problem != tt.problem {
				t.Errorf("Problem = %q, want %q", ue.Problem, tt.problem)
			}
			if !strings.Contains(ue.Fix, tt.fix) {
				t.Errorf("Fix = %q, want it to contain %q", ue.Fix, tt.fix)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the URL's user info: %v", err)
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CheckURL created the folder of a file URL: %v", err)
	}
}

// TestURLErrorNamesHelper checks that, in a program without the cloud
// drivers, the error names the program that serves cloud URLs and how to
// build it.
func TestURLErrorNamesHelper(t *testing.T) {
	err := CheckURL("nosuch://x")
	want := "(served by mlb-cloud, mlb built with -tags mlb_cloud)"
	if cloudLinked {
		want = ""
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("CheckURL = %v, want it to contain %q", err, want)
	}
	if cloudLinked && strings.Contains(err.Error(), "mlb-cloud") {
		t.Errorf("CheckURL in mlb-cloud = %v, want no mention of mlb-cloud", err)
	}
}
