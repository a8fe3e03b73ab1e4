# want: mlb.hcl:2:1: Invalid value for param trees
param "trees" {
  type    = number
  default = "many"
}
