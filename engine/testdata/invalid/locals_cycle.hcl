# want: mlb.hcl:3:3: Cycle among locals: a, b
locals {
  a = "${local.b}-x"
  b = "${local.a}-y"
  c = "fine"
}

stage "s" {
  command = "echo ${local.a}"
}
