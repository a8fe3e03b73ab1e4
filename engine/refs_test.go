package engine

import (
	"reflect"
	"testing"
)

const refsPipeline = `
param "data" {
  default = { train = "data/train.csv", test = "data/test.csv" }
}
param "n" {
  default = 3
}
param "fast" {
  default = true
}
param "mode" {
  default = "a"
}
param "unused" {
  default = "x"
}

locals {
  train_path = param.data.train
  doubled    = local.half * 2
  half       = param.n
  constant   = "c"
}

stage "direct" {
  command = "echo ${param.n}"
}

stage "nested" {
  inputs  = { d = param.data.train }
  command = "cat ${inputs.d}"
}

stage "index" {
  command = "echo ${param.data["test"]}"
}

stage "via_local" {
  command = "echo ${local.train_path}"
}

stage "local_chain" {
  command = "echo ${local.doubled}"
}

stage "conditional" {
  command = param.fast ? "echo ${param.mode}" : "echo slow"
}

stage "untaken" {
  command = param.fast ? "echo fast" : "echo ${param.mode}"
}

stage "in_env" {
  env     = { N = param.n }
  command = "echo $N"
}

stage "whole" {
  command = "echo ${jsonencode(param)}"
}

stage "none" {
  command = "echo ${local.constant}"
}
`

// A stage's key covers exactly the params its expressions use, at the
// depth they use them.
func TestStageParams(t *testing.T) {
	g := load(t, newWorkspace(t, refsPipeline, nil), ParamSources{})
	tests := []struct {
		stage string
		want  map[string]string // dotted path -> JSON value
	}{
		{"direct", map[string]string{"n": `3`}},
		{"nested", map[string]string{"data.train": `"data/train.csv"`}},
		{"index", map[string]string{"data.test": `"data/test.csv"`}},
		{"via_local", map[string]string{"data.train": `"data/train.csv"`}},
		{"local_chain", map[string]string{"n": `3`}},
		{"conditional", map[string]string{"fast": `true`, "mode": `"a"`}},
		{"untaken", map[string]string{"fast": `true`, "mode": `"a"`}},
		{"in_env", map[string]string{"n": `3`}},
		{"whole", map[string]string{
			"data":   `{"test":"data/test.csv","train":"data/train.csv"}`,
			"n":      `3`,
			"fast":   `true`,
			"mode":   `"a"`,
			"unused": `"x"`,
		}},
		{"none", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			s := g.Stage(tt.stage)
			if s == nil {
				t.Fatalf("no stage %s", tt.stage)
			}
			if !reflect.DeepEqual(s.Params, tt.want) {
				t.Errorf("params = %v, want %v", s.Params, tt.want)
			}
		})
	}
}

// Changing one param changes the keys of the stages that use it, and no
// others.
func TestStageKeysFollowParams(t *testing.T) {
	root := newWorkspace(t, refsPipeline, nil)
	keys := func(overrides ...string) map[string]string {
		g := load(t, root, ParamSources{Overrides: overrides})
		out := map[string]string{}
		for _, s := range g.Stages {
			out[s.Name] = s.staticParts().Key().String()
		}
		return out
	}
	base := keys()
	tests := []struct {
		override string
		changed  []string
	}{
		{"data.test=other.csv", []string{"index", "whole"}},
		{"data.train=other.csv", []string{"nested", "via_local", "whole"}},
		{"n=4", []string{"direct", "local_chain", "in_env", "whole"}},
		// untaken changes through its params alone: its command stays
		// "echo fast".
		{"mode=b", []string{"conditional", "untaken", "whole"}},
		{"fast=false", []string{"conditional", "untaken", "whole"}},
		{"unused=y", []string{"whole"}},
	}
	for _, tt := range tests {
		t.Run(tt.override, func(t *testing.T) {
			after := keys(tt.override)
			want := map[string]bool{}
			for _, name := range tt.changed {
				want[name] = true
			}
			for name, k := range base {
				if changed := after[name] != k; changed != want[name] {
					t.Errorf("stage %s: key changed = %v, want %v", name, changed, want[name])
				}
			}
		})
	}
}
