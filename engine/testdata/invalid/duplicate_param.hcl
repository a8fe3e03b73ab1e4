# want: mlb.hcl:6:1: Duplicate param lr
param "lr" {
  default = 0.1
}

param "lr" {
  default = 0.2
}
