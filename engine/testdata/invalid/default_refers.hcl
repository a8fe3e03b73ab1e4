# want: mlb.hcl:7:13: Variables not allowed
param "a" {
  default = 1
}

param "b" {
  default = param.a
}
