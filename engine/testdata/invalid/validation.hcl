# want: mlb.hcl:5:21: Invalid value for param lr
param "lr" {
  default = 5
  validation {
    condition     = param.lr < 1
    error_message = "lr must be below 1."
  }
}

stage "a" {
  command = "echo ${param.lr}"
}
