// Declarations only (include/CFuzzDriver.h); libFuzzer provides the definition when the fuzzer is built.
#include "CFuzzDriver.h"
