# want: mlb.hcl:3:23: Reference to undeclared param out_dir
stage "a" {
  outputs = { model = param.out_dir }
  command = "true"
}
