# want: mlb.hcl:7:21: Reference to undeclared param epochs
param "epoch" {
  default = 1
}

stage "a" {
  command = "echo ${param.epochs}"
}
