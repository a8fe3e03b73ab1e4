# want: mlb.hcl:4:3: Unsupported argument
stage "a" {
  command = "true"
  comand  = "typo"
}
