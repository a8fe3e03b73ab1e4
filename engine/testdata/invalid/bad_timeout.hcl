# want: mlb.hcl:4:13: Invalid timeout
stage "a" {
  command = "sleep 1"
  timeout = "soon"
}
