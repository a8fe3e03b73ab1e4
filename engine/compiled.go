package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"github.com/zeebo/blake3"

	"github.com/mlbuild/mlb/cache"
)

// compiledFile is the file, in the workspace's state folder, that holds
// its last resolved graph. Parsing and resolving a pipeline of a thousand
// stages costs more than the whole no-op build that follows, so a command
// whose inputs to resolution are unchanged decodes this file instead.
const compiledFile = "graph.bin"

// parseMemoryLimit is the soft memory limit while a pipeline is parsed
// and resolved.
const parseMemoryLimit = 64 << 20

// compiledVersion changes whenever compiledGraph or the meaning of any of
// its fields does.
const compiledVersion = "mlb-compiled-graph-v3"

// compiledGraph is a resolved graph in the form it is cached in. It keeps
// what builds and listings use, not the HCL syntax trees.
type compiledGraph struct {
	Key        cache.Digest
	ParamsType []byte // the params object's type, as cty JSON
	Params     []byte // the params object, as cty JSON
	Blocks     []compiledBlock
	Stages     []compiledStage
	Cache      *CacheBlock
}

type compiledBlock struct {
	Name      string
	DeclRange hcl.Range
}

type compiledStage struct {
	Name, Description string
	Inputs, Outputs   []PathRef
	Metrics           []string
	Argv              []string
	Shell             string
	Env               map[string]string
	Workdir           string
	Cache             bool
	Timeout           time.Duration
	Params            map[string]string
	Deps              []string
	Block             string // name of the stage block it comes from
}

// LoadGraph reads, parses and resolves the pipeline of the workspace at
// root with the given params. When nothing that resolution reads changed
// since the last successful call, it decodes the graph that call cached
// in the workspace's state folder instead. The cached copy is keyed by
// mlb.hcl, the params files, the MLB_PARAM_ variables, the -p values, the
// recorded params, the working folder and the mlb binary itself. A graph whose
// resolution printed warnings is not cached, so they show every time.
//
// When resolution printed diagnostics, the Pipeline it returns holds the
// HCL files for quoting them; otherwise it is the graph's own Pipeline,
// without parser.
func LoadGraph(root string, src ParamSources) (*Graph, *Pipeline, hcl.Diagnostics) {
	text, err := os.ReadFile(filepath.Join(root, PipelineFile))
	if err != nil {
		return nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read pipeline file", Detail: err.Error()}}
	}
	key, keyErr := compiledKey(root, text, src)
	path := filepath.Join(root, StateDir, compiledFile)
	if keyErr == nil {
		if g := readCompiled(path, key, root, text); g != nil {
			g.fromCache, g.key = true, key
			return g, g.Pipeline, nil
		}
	}

	// Parsing a large pipeline allocates several times the file's size in
	// short-lived syntax nodes: 170 MB for a 700 KB file of 1,000 stages.
	// A soft memory limit while it runs makes the collector keep the heap
	// near what is live, not twice that, which sets the peak memory of
	// the command. An explicit GOMEMLIMIT is left alone.
	if os.Getenv("GOMEMLIMIT") == "" {
		prev := debug.SetMemoryLimit(parseMemoryLimit)
		defer debug.SetMemoryLimit(prev)
	}
	g, p, diags := resolveSource(root, text, src, true)
	if len(diags) > 0 {
		// The split parse keeps no navigation data for quoting; parse
		// again for the diagnostics' sake.
		g, p, diags = resolveSource(root, text, src, false)
	}
	if g == nil || diags.HasErrors() {
		return nil, p, diags
	}
	if len(diags) > 0 {
		return g, p, diags
	}
	// From here on the graph is used in its compiled form, as after a
	// cache hit, so that the syntax trees, tens of megabytes for a large
	// pipeline, can be freed before the build starts.
	cg, err := compile(g)
	if err != nil {
		return g, p, nil
	}
	if keyErr == nil {
		// A cache that cannot be written costs only speed.
		_ = writeCompiled(path, key, cg)
	}
	if light, err := cg.graph(root, text); err == nil {
		if keyErr == nil {
			light.key = key
		}
		return light, light.Pipeline, nil
	}
	return g, p, nil
}

// resolveSource parses text, the pipeline of the workspace at root, and
// resolves it with the params from src, parsing on several cores when
// split is set. The graph is nil when there are errors.
func resolveSource(root string, text []byte, src ParamSources, split bool) (*Graph, *Pipeline, hcl.Diagnostics) {
	p, diags := loadSource(root, text, split)
	if p == nil || diags.HasErrors() {
		return nil, p, diags
	}
	params, d := p.ResolveParams(src)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, p, diags
	}
	g, d := p.Resolve(params)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, p, diags
	}
	return g, p, diags
}

// compiledKey digests everything resolution reads. A params file that
// cannot be read fails the key, so the full load reports it.
func compiledKey(root string, text []byte, src ParamSources) (cache.Digest, error) {
	h := blake3.New()
	field := func(parts ...string) {
		for _, s := range parts {
			fmt.Fprintf(h, "%d:%s\n", len(s), s)
		}
	}

	// The program, the folders and the pipeline text.
	exe, err := os.Executable()
	if err != nil {
		return cache.Digest{}, err
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return cache.Digest{}, err
	}
	wd, err := os.Getwd()
	if err != nil {
		return cache.Digest{}, err
	}
	field(compiledVersion, exe, fmt.Sprint(fi.Size(), fi.ModTime().UnixNano()), root, wd, string(text))

	// Every source of param values.
	field("files", fmt.Sprint(len(src.Files)))
	for _, f := range src.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			return cache.Digest{}, err
		}
		field(f, string(data))
	}
	var env []string
	for _, kv := range src.Env {
		if strings.HasPrefix(kv, envParamPrefix) {
			env = append(env, kv)
		}
	}
	sort.Strings(env)
	field("env", fmt.Sprint(len(env)))
	field(env...)
	field("overrides", fmt.Sprint(len(src.Overrides)))
	field(src.Overrides...)
	field("recorded", string(src.Recorded))

	var d cache.Digest
	h.Sum(d[:0])
	return d, nil
}

// readCompiled returns the graph cached at path when its key is key, or
// nil for any other content, a missing file or one that does not decode.
func readCompiled(path string, key cache.Digest, root string, text []byte) *Graph {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if data, err = unseal(data); err != nil {
		return nil
	}
	cg, err := decodeCompiled(data)
	if err != nil || cg.Key != key {
		return nil
	}
	g, err := cg.graph(root, text)
	if err != nil {
		return nil
	}
	return g
}

func writeCompiled(path string, key cache.Digest, cg *compiledGraph) error {
	cg.Key = key
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".graph-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(seal(cg.encode()))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// compile turns g into its cached form.
func compile(g *Graph) (*compiledGraph, error) {
	obj := g.Params.Object()
	typ, err := ctyjson.MarshalType(obj.Type())
	if err != nil {
		return nil, err
	}
	val, err := ctyjson.Marshal(obj, obj.Type())
	if err != nil {
		return nil, err
	}
	cg := &compiledGraph{ParamsType: typ, Params: val, Cache: g.Pipeline.Cache}
	for _, b := range g.Pipeline.Stages {
		cg.Blocks = append(cg.Blocks, compiledBlock{Name: b.Name, DeclRange: b.DeclRange})
	}
	for _, s := range g.Stages {
		cg.Stages = append(cg.Stages, compiledStage{
			Name: s.Name, Description: s.Description,
			Inputs: s.Inputs, Outputs: s.Outputs, Metrics: s.Metrics,
			Argv: s.Argv, Shell: s.Shell, Env: s.Env, Workdir: s.Workdir,
			Cache: s.Cache, Timeout: s.Timeout, Params: s.Params, Deps: s.Deps,
			Block: s.Block.Name,
		})
	}
	return cg, nil
}

// graph rebuilds the Graph that cg was compiled from.
func (cg *compiledGraph) graph(root string, text []byte) (*Graph, error) {
	typ, err := ctyjson.UnmarshalType(cg.ParamsType)
	if err != nil {
		return nil, err
	}
	obj, err := ctyjson.Unmarshal(cg.Params, typ)
	if err != nil {
		return nil, err
	}
	params := Params{}
	if !obj.Type().IsObjectType() {
		return nil, fmt.Errorf("cached params are a %s, not an object", obj.Type().FriendlyName())
	}
	for name, v := range obj.AsValueMap() {
		params[name] = v
	}

	p := &Pipeline{Root: root, Source: text, Cache: cg.Cache}
	blocks := map[string]*StageBlock{}
	for _, b := range cg.Blocks {
		sb := &StageBlock{Name: b.Name, DeclRange: b.DeclRange}
		p.Stages = append(p.Stages, sb)
		blocks[b.Name] = sb
	}

	g := &Graph{Pipeline: p, Params: params, byName: make(map[string]*Stage, len(cg.Stages))}
	for i := range cg.Stages {
		cs := &cg.Stages[i]
		s := &Stage{
			Name: cs.Name, Description: cs.Description,
			Inputs: cs.Inputs, Outputs: cs.Outputs, Metrics: cs.Metrics,
			Argv: cs.Argv, Shell: cs.Shell, Env: cs.Env, Workdir: cs.Workdir,
			Cache: cs.Cache, Timeout: cs.Timeout, Params: cs.Params, Deps: cs.Deps,
			Block: blocks[cs.Block],
		}
		if s.Block == nil {
			return nil, fmt.Errorf("cached stage %s names no stage block", s.Name)
		}
		g.Stages = append(g.Stages, s)
		g.byName[s.Name] = s
	}
	return g, nil
}
