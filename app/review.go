package app

import "errors"

var errNotYet = errors.New("this step is not built yet")
