package dev.engram.cuda;

/**
 * The CUDA runtime's error codes ({@code enum cudaError} of CUDA 13's driver_types.h, without
 * {@code cudaSuccess}), by name and number. {@link #of(int)} maps a {@code cudaError_t}; a code this enum
 * does not know (a newer runtime) maps to {@link #UNRECOGNIZED}, and {@link CudaException#code()} keeps the
 * number either way. CudaErrorEnumTest checks every constant against the toolkit's header where it is
 * installed.
 */
public enum CudaError {
    /** {@code cudaErrorInvalidValue} (1). */
    INVALID_VALUE(1, "cudaErrorInvalidValue"),
    /** {@code cudaErrorMemoryAllocation} (2). */
    MEMORY_ALLOCATION(2, "cudaErrorMemoryAllocation"),
    /** {@code cudaErrorInitializationError} (3). */
    INITIALIZATION_ERROR(3, "cudaErrorInitializationError"),
    /** {@code cudaErrorCudartUnloading} (4). */
    CUDART_UNLOADING(4, "cudaErrorCudartUnloading"),
    /** {@code cudaErrorProfilerDisabled} (5). */
    PROFILER_DISABLED(5, "cudaErrorProfilerDisabled"),
    /** {@code cudaErrorProfilerNotInitialized} (6). */
    PROFILER_NOT_INITIALIZED(6, "cudaErrorProfilerNotInitialized"),
    /** {@code cudaErrorProfilerAlreadyStarted} (7). */
    PROFILER_ALREADY_STARTED(7, "cudaErrorProfilerAlreadyStarted"),
    /** {@code cudaErrorProfilerAlreadyStopped} (8). */
    PROFILER_ALREADY_STOPPED(8, "cudaErrorProfilerAlreadyStopped"),
    /** {@code cudaErrorInvalidConfiguration} (9). */
    INVALID_CONFIGURATION(9, "cudaErrorInvalidConfiguration"),
    /** {@code cudaErrorInvalidPitchValue} (12). */
    INVALID_PITCH_VALUE(12, "cudaErrorInvalidPitchValue"),
    /** {@code cudaErrorInvalidSymbol} (13). */
    INVALID_SYMBOL(13, "cudaErrorInvalidSymbol"),
    /** {@code cudaErrorInvalidHostPointer} (16). */
    INVALID_HOST_POINTER(16, "cudaErrorInvalidHostPointer"),
    /** {@code cudaErrorInvalidDevicePointer} (17). */
    INVALID_DEVICE_POINTER(17, "cudaErrorInvalidDevicePointer"),
    /** {@code cudaErrorInvalidTexture} (18). */
    INVALID_TEXTURE(18, "cudaErrorInvalidTexture"),
    /** {@code cudaErrorInvalidTextureBinding} (19). */
    INVALID_TEXTURE_BINDING(19, "cudaErrorInvalidTextureBinding"),
    /** {@code cudaErrorInvalidChannelDescriptor} (20). */
    INVALID_CHANNEL_DESCRIPTOR(20, "cudaErrorInvalidChannelDescriptor"),
    /** {@code cudaErrorInvalidMemcpyDirection} (21). */
    INVALID_MEMCPY_DIRECTION(21, "cudaErrorInvalidMemcpyDirection"),
    /** {@code cudaErrorAddressOfConstant} (22). */
    ADDRESS_OF_CONSTANT(22, "cudaErrorAddressOfConstant"),
    /** {@code cudaErrorTextureFetchFailed} (23). */
    TEXTURE_FETCH_FAILED(23, "cudaErrorTextureFetchFailed"),
    /** {@code cudaErrorTextureNotBound} (24). */
    TEXTURE_NOT_BOUND(24, "cudaErrorTextureNotBound"),
    /** {@code cudaErrorSynchronizationError} (25). */
    SYNCHRONIZATION_ERROR(25, "cudaErrorSynchronizationError"),
    /** {@code cudaErrorInvalidFilterSetting} (26). */
    INVALID_FILTER_SETTING(26, "cudaErrorInvalidFilterSetting"),
    /** {@code cudaErrorInvalidNormSetting} (27). */
    INVALID_NORM_SETTING(27, "cudaErrorInvalidNormSetting"),
    /** {@code cudaErrorMixedDeviceExecution} (28). */
    MIXED_DEVICE_EXECUTION(28, "cudaErrorMixedDeviceExecution"),
    /** {@code cudaErrorNotYetImplemented} (31). */
    NOT_YET_IMPLEMENTED(31, "cudaErrorNotYetImplemented"),
    /** {@code cudaErrorMemoryValueTooLarge} (32). */
    MEMORY_VALUE_TOO_LARGE(32, "cudaErrorMemoryValueTooLarge"),
    /** {@code cudaErrorStubLibrary} (34). */
    STUB_LIBRARY(34, "cudaErrorStubLibrary"),
    /** {@code cudaErrorInsufficientDriver} (35). */
    INSUFFICIENT_DRIVER(35, "cudaErrorInsufficientDriver"),
    /** {@code cudaErrorCallRequiresNewerDriver} (36). */
    CALL_REQUIRES_NEWER_DRIVER(36, "cudaErrorCallRequiresNewerDriver"),
    /** {@code cudaErrorInvalidSurface} (37). */
    INVALID_SURFACE(37, "cudaErrorInvalidSurface"),
    /** {@code cudaErrorDuplicateVariableName} (43). */
    DUPLICATE_VARIABLE_NAME(43, "cudaErrorDuplicateVariableName"),
    /** {@code cudaErrorDuplicateTextureName} (44). */
    DUPLICATE_TEXTURE_NAME(44, "cudaErrorDuplicateTextureName"),
    /** {@code cudaErrorDuplicateSurfaceName} (45). */
    DUPLICATE_SURFACE_NAME(45, "cudaErrorDuplicateSurfaceName"),
    /** {@code cudaErrorDevicesUnavailable} (46). */
    DEVICES_UNAVAILABLE(46, "cudaErrorDevicesUnavailable"),
    /** {@code cudaErrorIncompatibleDriverContext} (49). */
    INCOMPATIBLE_DRIVER_CONTEXT(49, "cudaErrorIncompatibleDriverContext"),
    /** {@code cudaErrorMissingConfiguration} (52). */
    MISSING_CONFIGURATION(52, "cudaErrorMissingConfiguration"),
    /** {@code cudaErrorPriorLaunchFailure} (53). */
    PRIOR_LAUNCH_FAILURE(53, "cudaErrorPriorLaunchFailure"),
    /** {@code cudaErrorLaunchMaxDepthExceeded} (65). */
    LAUNCH_MAX_DEPTH_EXCEEDED(65, "cudaErrorLaunchMaxDepthExceeded"),
    /** {@code cudaErrorLaunchFileScopedTex} (66). */
    LAUNCH_FILE_SCOPED_TEX(66, "cudaErrorLaunchFileScopedTex"),
    /** {@code cudaErrorLaunchFileScopedSurf} (67). */
    LAUNCH_FILE_SCOPED_SURF(67, "cudaErrorLaunchFileScopedSurf"),
    /** {@code cudaErrorSyncDepthExceeded} (68). */
    SYNC_DEPTH_EXCEEDED(68, "cudaErrorSyncDepthExceeded"),
    /** {@code cudaErrorLaunchPendingCountExceeded} (69). */
    LAUNCH_PENDING_COUNT_EXCEEDED(69, "cudaErrorLaunchPendingCountExceeded"),
    /** {@code cudaErrorInvalidDeviceFunction} (98). */
    INVALID_DEVICE_FUNCTION(98, "cudaErrorInvalidDeviceFunction"),
    /** {@code cudaErrorNoDevice} (100). */
    NO_DEVICE(100, "cudaErrorNoDevice"),
    /** {@code cudaErrorInvalidDevice} (101). */
    INVALID_DEVICE(101, "cudaErrorInvalidDevice"),
    /** {@code cudaErrorDeviceNotLicensed} (102). */
    DEVICE_NOT_LICENSED(102, "cudaErrorDeviceNotLicensed"),
    /** {@code cudaErrorSoftwareValidityNotEstablished} (103). */
    SOFTWARE_VALIDITY_NOT_ESTABLISHED(103, "cudaErrorSoftwareValidityNotEstablished"),
    /** {@code cudaErrorStartupFailure} (127). */
    STARTUP_FAILURE(127, "cudaErrorStartupFailure"),
    /** {@code cudaErrorInvalidKernelImage} (200). */
    INVALID_KERNEL_IMAGE(200, "cudaErrorInvalidKernelImage"),
    /** {@code cudaErrorDeviceUninitialized} (201). */
    DEVICE_UNINITIALIZED(201, "cudaErrorDeviceUninitialized"),
    /** {@code cudaErrorMapBufferObjectFailed} (205). */
    MAP_BUFFER_OBJECT_FAILED(205, "cudaErrorMapBufferObjectFailed"),
    /** {@code cudaErrorUnmapBufferObjectFailed} (206). */
    UNMAP_BUFFER_OBJECT_FAILED(206, "cudaErrorUnmapBufferObjectFailed"),
    /** {@code cudaErrorArrayIsMapped} (207). */
    ARRAY_IS_MAPPED(207, "cudaErrorArrayIsMapped"),
    /** {@code cudaErrorAlreadyMapped} (208). */
    ALREADY_MAPPED(208, "cudaErrorAlreadyMapped"),
    /** {@code cudaErrorNoKernelImageForDevice} (209). */
    NO_KERNEL_IMAGE_FOR_DEVICE(209, "cudaErrorNoKernelImageForDevice"),
    /** {@code cudaErrorAlreadyAcquired} (210). */
    ALREADY_ACQUIRED(210, "cudaErrorAlreadyAcquired"),
    /** {@code cudaErrorNotMapped} (211). */
    NOT_MAPPED(211, "cudaErrorNotMapped"),
    /** {@code cudaErrorNotMappedAsArray} (212). */
    NOT_MAPPED_AS_ARRAY(212, "cudaErrorNotMappedAsArray"),
    /** {@code cudaErrorNotMappedAsPointer} (213). */
    NOT_MAPPED_AS_POINTER(213, "cudaErrorNotMappedAsPointer"),
    /** {@code cudaErrorECCUncorrectable} (214). */
    ECC_UNCORRECTABLE(214, "cudaErrorECCUncorrectable"),
    /** {@code cudaErrorUnsupportedLimit} (215). */
    UNSUPPORTED_LIMIT(215, "cudaErrorUnsupportedLimit"),
    /** {@code cudaErrorDeviceAlreadyInUse} (216). */
    DEVICE_ALREADY_IN_USE(216, "cudaErrorDeviceAlreadyInUse"),
    /** {@code cudaErrorPeerAccessUnsupported} (217). */
    PEER_ACCESS_UNSUPPORTED(217, "cudaErrorPeerAccessUnsupported"),
    /** {@code cudaErrorInvalidPtx} (218). */
    INVALID_PTX(218, "cudaErrorInvalidPtx"),
    /** {@code cudaErrorInvalidGraphicsContext} (219). */
    INVALID_GRAPHICS_CONTEXT(219, "cudaErrorInvalidGraphicsContext"),
    /** {@code cudaErrorNvlinkUncorrectable} (220). */
    NVLINK_UNCORRECTABLE(220, "cudaErrorNvlinkUncorrectable"),
    /** {@code cudaErrorJitCompilerNotFound} (221). */
    JIT_COMPILER_NOT_FOUND(221, "cudaErrorJitCompilerNotFound"),
    /** {@code cudaErrorUnsupportedPtxVersion} (222). */
    UNSUPPORTED_PTX_VERSION(222, "cudaErrorUnsupportedPtxVersion"),
    /** {@code cudaErrorJitCompilationDisabled} (223). */
    JIT_COMPILATION_DISABLED(223, "cudaErrorJitCompilationDisabled"),
    /** {@code cudaErrorUnsupportedExecAffinity} (224). */
    UNSUPPORTED_EXEC_AFFINITY(224, "cudaErrorUnsupportedExecAffinity"),
    /** {@code cudaErrorUnsupportedDevSideSync} (225). */
    UNSUPPORTED_DEV_SIDE_SYNC(225, "cudaErrorUnsupportedDevSideSync"),
    /** {@code cudaErrorContained} (226). */
    CONTAINED(226, "cudaErrorContained"),
    /** {@code cudaErrorInvalidSource} (300). */
    INVALID_SOURCE(300, "cudaErrorInvalidSource"),
    /** {@code cudaErrorFileNotFound} (301). */
    FILE_NOT_FOUND(301, "cudaErrorFileNotFound"),
    /** {@code cudaErrorSharedObjectSymbolNotFound} (302). */
    SHARED_OBJECT_SYMBOL_NOT_FOUND(302, "cudaErrorSharedObjectSymbolNotFound"),
    /** {@code cudaErrorSharedObjectInitFailed} (303). */
    SHARED_OBJECT_INIT_FAILED(303, "cudaErrorSharedObjectInitFailed"),
    /** {@code cudaErrorOperatingSystem} (304). */
    OPERATING_SYSTEM(304, "cudaErrorOperatingSystem"),
    /** {@code cudaErrorInvalidResourceHandle} (400). */
    INVALID_RESOURCE_HANDLE(400, "cudaErrorInvalidResourceHandle"),
    /** {@code cudaErrorIllegalState} (401). */
    ILLEGAL_STATE(401, "cudaErrorIllegalState"),
    /** {@code cudaErrorLossyQuery} (402). */
    LOSSY_QUERY(402, "cudaErrorLossyQuery"),
    /** {@code cudaErrorSymbolNotFound} (500). */
    SYMBOL_NOT_FOUND(500, "cudaErrorSymbolNotFound"),
    /** {@code cudaErrorNotReady} (600). */
    NOT_READY(600, "cudaErrorNotReady"),
    /** {@code cudaErrorIllegalAddress} (700). */
    ILLEGAL_ADDRESS(700, "cudaErrorIllegalAddress"),
    /** {@code cudaErrorLaunchOutOfResources} (701). */
    LAUNCH_OUT_OF_RESOURCES(701, "cudaErrorLaunchOutOfResources"),
    /** {@code cudaErrorLaunchTimeout} (702). */
    LAUNCH_TIMEOUT(702, "cudaErrorLaunchTimeout"),
    /** {@code cudaErrorLaunchIncompatibleTexturing} (703). */
    LAUNCH_INCOMPATIBLE_TEXTURING(703, "cudaErrorLaunchIncompatibleTexturing"),
    /** {@code cudaErrorPeerAccessAlreadyEnabled} (704). */
    PEER_ACCESS_ALREADY_ENABLED(704, "cudaErrorPeerAccessAlreadyEnabled"),
    /** {@code cudaErrorPeerAccessNotEnabled} (705). */
    PEER_ACCESS_NOT_ENABLED(705, "cudaErrorPeerAccessNotEnabled"),
    /** {@code cudaErrorSetOnActiveProcess} (708). */
    SET_ON_ACTIVE_PROCESS(708, "cudaErrorSetOnActiveProcess"),
    /** {@code cudaErrorContextIsDestroyed} (709). */
    CONTEXT_IS_DESTROYED(709, "cudaErrorContextIsDestroyed"),
    /** {@code cudaErrorAssert} (710). */
    ASSERT(710, "cudaErrorAssert"),
    /** {@code cudaErrorTooManyPeers} (711). */
    TOO_MANY_PEERS(711, "cudaErrorTooManyPeers"),
    /** {@code cudaErrorHostMemoryAlreadyRegistered} (712). */
    HOST_MEMORY_ALREADY_REGISTERED(712, "cudaErrorHostMemoryAlreadyRegistered"),
    /** {@code cudaErrorHostMemoryNotRegistered} (713). */
    HOST_MEMORY_NOT_REGISTERED(713, "cudaErrorHostMemoryNotRegistered"),
    /** {@code cudaErrorHardwareStackError} (714). */
    HARDWARE_STACK_ERROR(714, "cudaErrorHardwareStackError"),
    /** {@code cudaErrorIllegalInstruction} (715). */
    ILLEGAL_INSTRUCTION(715, "cudaErrorIllegalInstruction"),
    /** {@code cudaErrorMisalignedAddress} (716). */
    MISALIGNED_ADDRESS(716, "cudaErrorMisalignedAddress"),
    /** {@code cudaErrorInvalidAddressSpace} (717). */
    INVALID_ADDRESS_SPACE(717, "cudaErrorInvalidAddressSpace"),
    /** {@code cudaErrorInvalidPc} (718). */
    INVALID_PC(718, "cudaErrorInvalidPc"),
    /** {@code cudaErrorLaunchFailure} (719). */
    LAUNCH_FAILURE(719, "cudaErrorLaunchFailure"),
    /** {@code cudaErrorCooperativeLaunchTooLarge} (720). */
    COOPERATIVE_LAUNCH_TOO_LARGE(720, "cudaErrorCooperativeLaunchTooLarge"),
    /** {@code cudaErrorTensorMemoryLeak} (721). */
    TENSOR_MEMORY_LEAK(721, "cudaErrorTensorMemoryLeak"),
    /** {@code cudaErrorNotPermitted} (800). */
    NOT_PERMITTED(800, "cudaErrorNotPermitted"),
    /** {@code cudaErrorNotSupported} (801). */
    NOT_SUPPORTED(801, "cudaErrorNotSupported"),
    /** {@code cudaErrorSystemNotReady} (802). */
    SYSTEM_NOT_READY(802, "cudaErrorSystemNotReady"),
    /** {@code cudaErrorSystemDriverMismatch} (803). */
    SYSTEM_DRIVER_MISMATCH(803, "cudaErrorSystemDriverMismatch"),
    /** {@code cudaErrorCompatNotSupportedOnDevice} (804). */
    COMPAT_NOT_SUPPORTED_ON_DEVICE(804, "cudaErrorCompatNotSupportedOnDevice"),
    /** {@code cudaErrorMpsConnectionFailed} (805). */
    MPS_CONNECTION_FAILED(805, "cudaErrorMpsConnectionFailed"),
    /** {@code cudaErrorMpsRpcFailure} (806). */
    MPS_RPC_FAILURE(806, "cudaErrorMpsRpcFailure"),
    /** {@code cudaErrorMpsServerNotReady} (807). */
    MPS_SERVER_NOT_READY(807, "cudaErrorMpsServerNotReady"),
    /** {@code cudaErrorMpsMaxClientsReached} (808). */
    MPS_MAX_CLIENTS_REACHED(808, "cudaErrorMpsMaxClientsReached"),
    /** {@code cudaErrorMpsMaxConnectionsReached} (809). */
    MPS_MAX_CONNECTIONS_REACHED(809, "cudaErrorMpsMaxConnectionsReached"),
    /** {@code cudaErrorMpsClientTerminated} (810). */
    MPS_CLIENT_TERMINATED(810, "cudaErrorMpsClientTerminated"),
    /** {@code cudaErrorCdpNotSupported} (811). */
    CDP_NOT_SUPPORTED(811, "cudaErrorCdpNotSupported"),
    /** {@code cudaErrorCdpVersionMismatch} (812). */
    CDP_VERSION_MISMATCH(812, "cudaErrorCdpVersionMismatch"),
    /** {@code cudaErrorStreamCaptureUnsupported} (900). */
    STREAM_CAPTURE_UNSUPPORTED(900, "cudaErrorStreamCaptureUnsupported"),
    /** {@code cudaErrorStreamCaptureInvalidated} (901). */
    STREAM_CAPTURE_INVALIDATED(901, "cudaErrorStreamCaptureInvalidated"),
    /** {@code cudaErrorStreamCaptureMerge} (902). */
    STREAM_CAPTURE_MERGE(902, "cudaErrorStreamCaptureMerge"),
    /** {@code cudaErrorStreamCaptureUnmatched} (903). */
    STREAM_CAPTURE_UNMATCHED(903, "cudaErrorStreamCaptureUnmatched"),
    /** {@code cudaErrorStreamCaptureUnjoined} (904). */
    STREAM_CAPTURE_UNJOINED(904, "cudaErrorStreamCaptureUnjoined"),
    /** {@code cudaErrorStreamCaptureIsolation} (905). */
    STREAM_CAPTURE_ISOLATION(905, "cudaErrorStreamCaptureIsolation"),
    /** {@code cudaErrorStreamCaptureImplicit} (906). */
    STREAM_CAPTURE_IMPLICIT(906, "cudaErrorStreamCaptureImplicit"),
    /** {@code cudaErrorCapturedEvent} (907). */
    CAPTURED_EVENT(907, "cudaErrorCapturedEvent"),
    /** {@code cudaErrorStreamCaptureWrongThread} (908). */
    STREAM_CAPTURE_WRONG_THREAD(908, "cudaErrorStreamCaptureWrongThread"),
    /** {@code cudaErrorTimeout} (909). */
    TIMEOUT(909, "cudaErrorTimeout"),
    /** {@code cudaErrorGraphExecUpdateFailure} (910). */
    GRAPH_EXEC_UPDATE_FAILURE(910, "cudaErrorGraphExecUpdateFailure"),
    /** {@code cudaErrorExternalDevice} (911). */
    EXTERNAL_DEVICE(911, "cudaErrorExternalDevice"),
    /** {@code cudaErrorInvalidClusterSize} (912). */
    INVALID_CLUSTER_SIZE(912, "cudaErrorInvalidClusterSize"),
    /** {@code cudaErrorFunctionNotLoaded} (913). */
    FUNCTION_NOT_LOADED(913, "cudaErrorFunctionNotLoaded"),
    /** {@code cudaErrorInvalidResourceType} (914). */
    INVALID_RESOURCE_TYPE(914, "cudaErrorInvalidResourceType"),
    /** {@code cudaErrorInvalidResourceConfiguration} (915). */
    INVALID_RESOURCE_CONFIGURATION(915, "cudaErrorInvalidResourceConfiguration"),
    /** {@code cudaErrorUnknown} (999). */
    UNKNOWN(999, "cudaErrorUnknown"),
    /** {@code cudaErrorApiFailureBase} (10000). */
    API_FAILURE_BASE(10000, "cudaErrorApiFailureBase"),
    /** A code this enum does not list (number -1 here; the exception keeps the real one). */
    UNRECOGNIZED(-1, "unrecognized");

    private final int number;
    private final String cudaName;

    CudaError(int number, String cudaName) {
        this.number = number;
        this.cudaName = cudaName;
    }

    /** {@return the {@code cudaError_t} value, -1 for {@link #UNRECOGNIZED}} */
    public int number() {
        return number;
    }

    /** {@return the enumerator's name in the CUDA headers, e.g. {@code "cudaErrorMemoryAllocation"}} */
    public String cudaName() {
        return cudaName;
    }

    /**
     * {@return the constant for a {@code cudaError_t} value, {@link #UNRECOGNIZED} for one not listed here}
     * @param code a {@code cudaError_t} value other than {@code cudaSuccess}
     */
    public static CudaError of(int code) {
        for (CudaError e : values()) {
            if (e.number == code && e != UNRECOGNIZED) return e;
        }
        return UNRECOGNIZED;
    }
}
