//! verify end to end against the sandbox: passes after apply, names the cause of out-of-band breakages, agrees with the sandbox's ground truth.
