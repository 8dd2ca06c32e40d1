#include "es-protocol.h"
