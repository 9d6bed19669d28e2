/* Stand-in for libcecl.h (C. Cummins' OpenCL timing wrapper, not shipped with the sources), written for
 * this project so the suites' host code compiles: each CECL_* call takes the arguments of the OpenCL
 * function it wraps, so it is mapped straight to that function. Only compiled, never run. */
#ifndef INST2VEC_LIBCECL_SHIM_H
#define INST2VEC_LIBCECL_SHIM_H
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#define CECL_CREATE_CONTEXT clCreateContext
#define CECL_CREATE_CONTEXT_FROM_TYPE clCreateContextFromType
#define CECL_CREATE_COMMAND_QUEUE clCreateCommandQueue
#define CECL_CREATE_COMMAND_QUEUEWithProperties clCreateCommandQueueWithProperties
#define CECL_PROGRAM_WITH_SOURCE clCreateProgramWithSource
#define CECL_PROGRAM clBuildProgram
#define CECL_KERNEL clCreateKernel
#define CECL_CREATE_KERNELS_IN_PROGRAM clCreateKernelsInProgram
#define CECL_GET_KERNEL_WORK_GROUP_INFO clGetKernelWorkGroupInfo
#define CECL_BUFFER clCreateBuffer
#define CECL_SET_KERNEL_ARG clSetKernelArg
#define CECL_ND_RANGE_KERNEL clEnqueueNDRangeKernel
#define CECL_TASK clEnqueueTask
#define CECL_READ_BUFFER clEnqueueReadBuffer
#define CECL_WRITE_BUFFER clEnqueueWriteBuffer
#define CECL_MAP_BUFFER clEnqueueMapBuffer
#endif
