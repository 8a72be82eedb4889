// cuDNN's functions as Parity calls them, each opening libcudnn.so.9 on first
// use (Note [CUDA libraries load on first use], lazy_library.h). The prototypes
// are cudnn.h's: a mismatch is a compile error. A function Parity starts to
// call is added here, or the link fails naming it.
#include <cudnn.h>

#include <string>

#include "parity/cuda/lazy_library.h"
#include "parity/cuda/lazy_stub.h"

namespace parity::cuda::detail {

// The version check is cudnn.cpp's (check_cudnn_version, at the first handle):
// the soname already fixes the major version.
LazyLibrary& cudnn_library() {
  static LazyLibrary library("cuDNN", "libcudnn.so." + std::to_string(CUDNN_MAJOR),
                             std::to_string(CUDNN_MAJOR) + ".x (built with " + std::to_string(CUDNN_MAJOR) + "." +
                                 std::to_string(CUDNN_MINOR) + "." + std::to_string(CUDNN_PATCHLEVEL) + ")",
                             cuda_library_fallback_dirs());
  return library;
}

}  // namespace parity::cuda::detail

// clang-format off
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnConvolutionBackwardBias, (cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t dyDesc, const void *dy, const void *beta, const cudnnTensorDescriptor_t dbDesc, void *db), (handle, alpha, dyDesc, dy, beta, dbDesc, db))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnConvolutionBackwardData, (cudnnHandle_t handle, const void *alpha, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdDataAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta, const cudnnTensorDescriptor_t dxDesc, void *dx), (handle, alpha, wDesc, w, dyDesc, dy, convDesc, algo, workSpace, workSpaceSizeInBytes, beta, dxDesc, dx))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnConvolutionBackwardFilter, (cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdFilterAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta, const cudnnFilterDescriptor_t dwDesc, void *dw), (handle, alpha, xDesc, x, dyDesc, dy, convDesc, algo, workSpace, workSpaceSizeInBytes, beta, dwDesc, dw))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnConvolutionForward, (cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta, const cudnnTensorDescriptor_t yDesc, void *y), (handle, alpha, xDesc, x, wDesc, w, convDesc, algo, workSpace, workSpaceSizeInBytes, beta, yDesc, y))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnCreate, (cudnnHandle_t *handle), (handle))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnCreateConvolutionDescriptor, (cudnnConvolutionDescriptor_t *convDesc), (convDesc))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnCreateFilterDescriptor, (cudnnFilterDescriptor_t *filterDesc), (filterDesc))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnCreatePoolingDescriptor, (cudnnPoolingDescriptor_t *poolingDesc), (poolingDesc))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnCreateTensorDescriptor, (cudnnTensorDescriptor_t *tensorDesc), (tensorDesc))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnDestroy, (cudnnHandle_t handle), (handle))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnDestroyConvolutionDescriptor, (cudnnConvolutionDescriptor_t convDesc), (convDesc))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnDestroyFilterDescriptor, (cudnnFilterDescriptor_t filterDesc), (filterDesc))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnDestroyPoolingDescriptor, (cudnnPoolingDescriptor_t poolingDesc), (poolingDesc))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnDestroyTensorDescriptor, (cudnnTensorDescriptor_t tensorDesc), (tensorDesc))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnFindConvolutionBackwardDataAlgorithmEx, (cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc, void *dx, const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t *perfResults, void *workSpace, size_t workSpaceSizeInBytes), (handle, wDesc, w, dyDesc, dy, convDesc, dxDesc, dx, requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnFindConvolutionBackwardFilterAlgorithmEx, (cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t dyDesc, const void *y, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t dwDesc, void *dw, const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t *perfResults, void *workSpace, size_t workSpaceSizeInBytes), (handle, xDesc, x, dyDesc, y, convDesc, dwDesc, dw, requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnFindConvolutionForwardAlgorithmEx, (cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc, void *y, const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults, void *workSpace, size_t workSpaceSizeInBytes), (handle, xDesc, x, wDesc, w, convDesc, yDesc, y, requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetConvolution2dForwardOutputDim, (const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t inputTensorDesc, const cudnnFilterDescriptor_t filterDesc, int *n, int *c, int *h, int *w), (convDesc, inputTensorDesc, filterDesc, n, c, h, w))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetConvolutionBackwardDataAlgorithmMaxCount, (cudnnHandle_t handle, int *count), (handle, count))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetConvolutionBackwardDataAlgorithm_v7, (cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc, const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t gradDesc, const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t *perfResults), (handle, filterDesc, diffDesc, convDesc, gradDesc, requestedAlgoCount, returnedAlgoCount, perfResults))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetConvolutionBackwardDataWorkspaceSize, (cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc, cudnnConvolutionBwdDataAlgo_t algo, size_t *sizeInBytes), (handle, wDesc, dyDesc, convDesc, dxDesc, algo, sizeInBytes))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetConvolutionBackwardFilterAlgorithmMaxCount, (cudnnHandle_t handle, int *count), (handle, count))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetConvolutionBackwardFilterAlgorithm_v7, (cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc, const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc, const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t *perfResults), (handle, srcDesc, diffDesc, convDesc, gradDesc, requestedAlgoCount, returnedAlgoCount, perfResults))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetConvolutionBackwardFilterWorkspaceSize, (cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc, cudnnConvolutionBwdFilterAlgo_t algo, size_t *sizeInBytes), (handle, xDesc, dyDesc, convDesc, gradDesc, algo, sizeInBytes))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetConvolutionForwardAlgorithmMaxCount, (cudnnHandle_t handle, int *count), (handle, count))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetConvolutionForwardAlgorithm_v7, (cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc, const cudnnFilterDescriptor_t filterDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults), (handle, srcDesc, filterDesc, convDesc, destDesc, requestedAlgoCount, returnedAlgoCount, perfResults))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetConvolutionForwardWorkspaceSize, (cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnFilterDescriptor_t wDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc, cudnnConvolutionFwdAlgo_t algo, size_t *sizeInBytes), (handle, xDesc, wDesc, convDesc, yDesc, algo, sizeInBytes))
PARITY_LAZY_FUNCTION(cudnn, void, cudnnGetLastErrorString, (char *message, size_t max_size), (message, max_size))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnGetPooling2dForwardOutputDim, (const cudnnPoolingDescriptor_t poolingDesc, const cudnnTensorDescriptor_t inputTensorDesc, int *n, int *c, int *h, int *w), (poolingDesc, inputTensorDesc, n, c, h, w))
PARITY_LAZY_FUNCTION(cudnn, size_t, cudnnGetVersion, (void), ())
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnPoolingBackward, (cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc, const void *alpha, const cudnnTensorDescriptor_t yDesc, const void *y, const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnTensorDescriptor_t xDesc, const void *x, const void *beta, const cudnnTensorDescriptor_t dxDesc, void *dx), (handle, poolingDesc, alpha, yDesc, y, dyDesc, dy, xDesc, x, beta, dxDesc, dx))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnPoolingForward, (cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc, const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x, const void *beta, const cudnnTensorDescriptor_t yDesc, void *y), (handle, poolingDesc, alpha, xDesc, x, beta, yDesc, y))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnSetConvolution2dDescriptor, (cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w, int u, int v, int dilation_h, int dilation_w, cudnnConvolutionMode_t mode, cudnnDataType_t computeType), (convDesc, pad_h, pad_w, u, v, dilation_h, dilation_w, mode, computeType))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnSetConvolutionMathType, (cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType), (convDesc, mathType))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnSetFilter4dDescriptor, (cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType, cudnnTensorFormat_t format, int k, int c, int h, int w), (filterDesc, dataType, format, k, c, h, w))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnSetPooling2dDescriptor, (cudnnPoolingDescriptor_t poolingDesc, cudnnPoolingMode_t mode, cudnnNanPropagation_t maxpoolingNanOpt, int windowHeight, int windowWidth, int verticalPadding, int horizontalPadding, int verticalStride, int horizontalStride), (poolingDesc, mode, maxpoolingNanOpt, windowHeight, windowWidth, verticalPadding, horizontalPadding, verticalStride, horizontalStride))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnSetStream, (cudnnHandle_t handle, cudaStream_t streamId), (handle, streamId))
PARITY_LAZY_FUNCTION(cudnn, cudnnStatus_t, cudnnSetTensor4dDescriptorEx, (cudnnTensorDescriptor_t tensorDesc, cudnnDataType_t dataType, int n, int c, int h, int w, int nStride, int cStride, int hStride, int wStride), (tensorDesc, dataType, n, c, h, w, nStride, cStride, hStride, wStride))
PARITY_LAZY_FUNCTION(cudnn, const char*, cudnnGetErrorString, (cudnnStatus_t status), (status))
// clang-format on
