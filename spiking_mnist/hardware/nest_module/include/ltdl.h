/*
 * NEST's module_manager.h names libltdl's handle type; nothing else of libltdl is used by
 * the module. This declaration is libltdl's own (an opaque pointer), so the module builds
 * where libltdl's development headers are not installed.
 */
#ifndef SPIKING_MNIST_LTDL_H
#define SPIKING_MNIST_LTDL_H
typedef struct lt__handle* lt_dlhandle;
#endif
