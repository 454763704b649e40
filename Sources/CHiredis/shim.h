#ifndef SWITCHYARD_CHIREDIS_SHIM_H
#define SWITCHYARD_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#endif
