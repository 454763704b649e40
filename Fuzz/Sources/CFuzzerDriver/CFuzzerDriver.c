// Header-only target; SwiftPM needs one source file to build it.
#include "CFuzzerDriver.h"
