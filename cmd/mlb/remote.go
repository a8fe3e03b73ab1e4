package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/pflag"

	"github.com/mlbuild/mlb/cache/remote"
	"github.com/mlbuild/mlb/engine"
)

// remoteEnv is the environment variable that names the remote cache when
// no --remote flag is given.
const remoteEnv = "MLB_REMOTE"

// remoteOptions are the flags that name and tune a remote cache.
type remoteOptions struct {
	url     string
	jobs    int
	timeout time.Duration
}

func (o *remoteOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.url, "remote", "", "remote cache URL: s3://BUCKET[/FOLDER], gs://BUCKET[/FOLDER], azblob://CONTAINER[/FOLDER] or file:///PATH (default: $"+remoteEnv+", then the cache block in mlb.hcl)")
	o.addTuningFlags(f)
}

func (o *remoteOptions) addTuningFlags(f *pflag.FlagSet) {
	f.IntVar(&o.jobs, "remote-jobs", remote.DefaultJobs, "remote cache requests to run at once")
	f.DurationVar(&o.timeout, "remote-timeout", remote.DefaultTimeout, "give up on a remote cache request after this long without progress")
}

// remoteURL is a remote cache URL with its source, so that a malformed one
// is reported against that source. A flag or environment variable makes it
// a usage error, and the cache block an error in the pipeline file.
type remoteURL struct {
	value    string
	source   string           // "--remote" or "$MLB_REMOTE"; "" for the cache block
	pipeline *engine.Pipeline // the pipeline whose cache block set value, when source is ""
}

// flagURL returns the remote cache URL given with --remote.
func flagURL(value string) remoteURL { return remoteURL{value: value, source: "--remote"} }

// check returns the error to report when u is malformed, and nil
// otherwise. It does not contact the remote.
func (u remoteURL) check() error {
	return u.invalid(remote.CheckURL(u.value))
}

// invalid turns a *remote.URLError in err into a usage error that names
// the flag or variable that set the URL, or into a diagnostic at the cache
// block's remote attribute. Other errors are returned unchanged.
func (u remoteURL) invalid(err error) error {
	var ue *remote.URLError
	if !errors.As(err, &ue) {
		return err
	}
	if u.source != "" {
		return &usageError{fmt.Errorf("invalid %s %s: %s: %s", u.source, ue.QuotedURL(), ue.Problem, ue.Fix)}
	}
	return diagnostics(u.pipeline, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid remote URL",
		Detail:   fmt.Sprintf("remote %s: %s: %s.", ue.QuotedURL(), ue.Problem, ue.Fix),
		Subject:  u.pipeline.Cache.RemoteRange.Ptr(),
	}})
}

// checkFlag reports a malformed --remote value as a usage error before
// the command does any work. An empty value turns the remote off.
func (o *remoteOptions) checkFlag(f *pflag.FlagSet) error {
	if !f.Changed("remote") || o.url == "" {
		return nil
	}
	return flagURL(o.url).check()
}

// resolve returns the remote cache URL: the --remote flag when it is set,
// even to "", else $MLB_REMOTE, else the cache block of p, which may be
// nil. An empty value means no remote.
func (o *remoteOptions) resolve(f *pflag.FlagSet, p *engine.Pipeline) remoteURL {
	if f.Changed("remote") {
		return flagURL(o.url)
	}
	if u := os.Getenv(remoteEnv); u != "" {
		return remoteURL{value: u, source: "$" + remoteEnv}
	}
	if p != nil && p.Cache != nil {
		return remoteURL{value: p.Cache.Remote, pipeline: p}
	}
	return remoteURL{}
}

// open opens the remote cache at u. Credentials come from the
// environment and the cloud SDKs' configuration files, and their values
// are kept out of every message.
func (o *remoteOptions) open(ctx context.Context, u remoteURL) (*remote.Remote, error) {
	if o.jobs < 1 {
		return nil, &usageError{fmt.Errorf("invalid --remote-jobs %d: give at least 1", o.jobs)}
	}
	if o.timeout <= 0 {
		return nil, &usageError{fmt.Errorf("invalid --remote-timeout %s: give a positive duration such as 30s", o.timeout)}
	}
	r, err := remote.Open(ctx, u.value, remote.Options{
		Jobs:    o.jobs,
		Timeout: o.timeout,
		Secrets: remote.EnvSecrets(os.Environ()),
	})
	var he *remote.HelperError
	if errors.As(err, &he) {
		return nil, handOver(he)
	}
	if err != nil {
		return nil, u.invalid(err)
	}
	return r, nil
}

// openRequired opens the remote cache a command cannot work without.
func (o *remoteOptions) openRequired(ctx context.Context, f *pflag.FlagSet, root string) (*remote.Remote, error) {
	u := o.resolve(f, loadCacheBlock(root))
	if u.value == "" {
		return nil, &usageError{fmt.Errorf("no remote cache: give --remote URL, set $%s, or add a cache block with remote = \"URL\" to %s", remoteEnv, engine.PipelineFile)}
	}
	return o.open(ctx, u)
}

// loadCacheBlock returns the pipeline, for its cache block, to commands
// that do not load it otherwise. It returns nil when the file has errors,
// which the commands that load the pipeline report.
func loadCacheBlock(root string) *engine.Pipeline {
	p, diags := engine.Load(root)
	if p == nil || diags.HasErrors() {
		return nil
	}
	return p
}

// buildRemoteOptions are the remote cache flags of mlb build.
type buildRemoteOptions struct {
	remoteOptions
	mode     string
	download string
	required bool
}

func (o *buildRemoteOptions) addFlags(f *pflag.FlagSet) {
	o.remoteOptions.addFlags(f)
	f.StringVar(&o.mode, "remote-mode", string(engine.RemoteReadWrite), "how the build uses the remote cache: read-write, read (never uploads), or write (never downloads)")
	f.StringVar(&o.download, "download", string(engine.DownloadMinimal), "which outputs to download from the remote cache: minimal (those of the named stages, or of the final stages, and those needed to run a stage) or all")
	f.BoolVar(&o.required, "remote-required", false, "fail the build when the remote cache fails, instead of warning once and building without it")
}

// session opens the remote cache for a build of the pipeline p; it
// returns nil when no remote is configured.
func (o *buildRemoteOptions) session(ctx context.Context, f *pflag.FlagSet, p *engine.Pipeline, stderr io.Writer) (*engine.RemoteSession, error) {
	mode := engine.RemoteMode(o.mode)
	switch mode {
	case engine.RemoteReadWrite, engine.RemoteRead, engine.RemoteWrite:
	default:
		return nil, &usageError{fmt.Errorf("invalid --remote-mode %q: use read-write, read or write", o.mode)}
	}
	download := engine.DownloadMode(o.download)
	switch download {
	case engine.DownloadMinimal, engine.DownloadAll:
	default:
		return nil, &usageError{fmt.Errorf("invalid --download %q: use minimal or all", o.download)}
	}
	u := o.resolve(f, p)
	if u.value == "" && o.required {
		return nil, &usageError{fmt.Errorf("--remote-required but no remote cache: give --remote URL, set $%s, or add a cache block with remote = \"URL\" to %s", remoteEnv, engine.PipelineFile)}
	}
	if u.value == "" {
		return nil, nil
	}
	r, err := o.open(ctx, u)
	if err != nil {
		return nil, err
	}
	return engine.NewRemoteSession(r, engine.RemoteOptions{
		Mode:     mode,
		Download: download,
		Required: o.required,
		Warn:     func(msg string) { fmt.Fprintf(stderr, "mlb: warning: %s\n", msg) },
	}), nil
}

// printRemoteSummary prints the line that ends a build with a remote
// cache. Byte counts are exact, before compression, with the compressed
// count that crossed the network in brackets.
func printRemoteSummary(w io.Writer, rs *engine.RemoteSession) {
	if rs == nil {
		return
	}
	s := rs.Summary()
	fmt.Fprintf(w, "remote %s: %s, %s; downloaded %s, %d bytes (%d compressed); uploaded %s, %d bytes (%d compressed)",
		s.Remote, plural(s.Hits, "hit"), plural(s.Misses, "miss"),
		plural(int(s.DownloadedBlobs), "blob"), s.DownloadedBytes, s.ReceivedBytes,
		plural(int(s.UploadedBlobs), "blob"), s.UploadedBytes, s.SentBytes)
	if s.Off {
		fmt.Fprint(w, "; switched off after a failure")
	}
	fmt.Fprintln(w)
}

// transferLine returns the live progress line for the remote's transfers,
// or "" when none are under way.
func transferLine(rs *engine.RemoteSession) string {
	s := rs.Stats()
	if s.PendingDownloads == 0 && s.PendingUploads == 0 {
		return ""
	}
	return fmt.Sprintf("remote     down: %d blobs done, %d to go, %s received; up: %d blobs done, %d to go, %s sent",
		s.DownloadedBlobs, s.PendingDownloads, formatBytes(s.ReceivedBytes),
		s.UploadedBlobs, s.PendingUploads, formatBytes(s.SentBytes))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if noun == "miss" {
		return fmt.Sprintf("%d misses", n)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// configuredRemote is the value of a bare runs --remote: the remote from
// $MLB_REMOTE or the cache block.
const configuredRemote = "configured"

func addRunsRemoteFlag(f *pflag.FlagSet, url *string) {
	f.StringVar(url, "remote", "", "list the runs in a remote cache: --remote for the configured one ($"+remoteEnv+" or the cache block), --remote URL for another")
	f.Lookup("remote").NoOptDefVal = configuredRemote
}

// listRuns returns the runs in the local cache or, when remoteURL is set,
// in that remote cache, newest first.
func listRuns(ctx context.Context, ws *engine.Workspace, remoteURL string) ([]*engine.RunRecord, error) {
	if remoteURL == "" {
		return engine.ListRuns(ws.Store)
	}
	o := remoteOptions{jobs: remote.DefaultJobs, timeout: remote.DefaultTimeout}
	u := flagURL(remoteURL)
	if remoteURL == configuredRemote {
		u = o.resolve(pflag.NewFlagSet("", pflag.ContinueOnError), loadCacheBlock(ws.Root))
		if u.value == "" {
			return nil, &usageError{fmt.Errorf("no remote cache configured: give --remote=URL, set $%s, or add a cache block with remote = \"URL\" to %s", remoteEnv, engine.PipelineFile)}
		}
	}
	r, err := o.open(ctx, u)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return engine.ListRemoteRuns(ctx, r, 0)
}

// setStatus sets the extra live line of p; see progress.status.
func (p *progress) setStatus(status func() string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = status
}
