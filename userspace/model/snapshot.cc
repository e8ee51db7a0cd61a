// The model is plain data; this file exists so the module is a library like the others.
#include "podstat/model/snapshot.h"
