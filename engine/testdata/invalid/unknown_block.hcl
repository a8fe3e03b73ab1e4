# want: mlb.hcl:2:1: Unsupported block type
pipeline "a" {
}
