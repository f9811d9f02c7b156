// CPU emulation of the CUDA runtime for kernels/emu (see include/cuda_runtime.h): launches, blocks,
// __syncthreads, warp shuffles, device allocations and the last-error state. NOT a GPU.
// A launch runs synchronously (launches from several host threads one at a time): the grid's blocks
// one after another (at most EMU_MAX_GRID blocks, so only grid-stride kernels give the full result),
// each on a pool of host threads, one per CUDA thread. Barriers detect deadlock (a __syncthreads
// or full-mask shuffle that some thread of the block or warp never reaches) and abort instead of
// hanging. Every device-side fault aborts at once; a GPU would report it later as a sticky error.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "cuda_runtime.h"

thread_local dim3 threadIdx;
thread_local dim3 blockIdx;
dim3 gridDim;
dim3 blockDim;
struct CUstream_st {
    int unused;
};

namespace emu {
namespace {

constexpr size_t kMaxSharedBytes = 48 * 1024;  // per block without cudaFuncSetAttribute opt-in

thread_local bool in_kernel = false;  // an emulated CUDA thread, not the host thread
thread_local cudaError_t last_error = cudaSuccess;  // per host thread, as in CUDA
cudaError_t set_error(cudaError_t e) {
    if (e != cudaSuccess) last_error = e;
    return e;
}

std::mutex alloc_mutex;
std::map<uintptr_t, size_t> allocations;  // start -> bytes, live cudaMalloc allocations
std::set<cudaStream_t> streams;

// [p, p + bytes) inside one live allocation (bytes 0: p may be its end).
bool in_allocation(const void* p, size_t bytes) {
    const auto a = reinterpret_cast<uintptr_t>(p);
    std::lock_guard lk(alloc_mutex);
    auto it = allocations.upper_bound(a);
    if (it == allocations.begin()) return false;
    --it;
    return a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

// The block being run: barrier counters, the shuffle exchange and the registered __shared__ arrays.
struct Block {
    std::mutex m;
    unsigned threads = 0, exited = 0, at_sync = 0;
    std::atomic<uint32_t> sync_gen{0};  // 32-bit: std::atomic::wait is a plain futex
    unsigned at_warp[32] = {};
    std::atomic<uint32_t> warp_gen[32] = {};
    uint64_t xch[2][32][32];  // [generation parity][warp][lane]
    std::vector<const void*> shared;
    size_t shared_bytes = 0;
    unsigned index = 0;
};
Block block;

// Under block.m: every thread either returned or waits at a barrier that cannot complete.
void check_progress() {
    unsigned waiting = block.at_sync;
    for (unsigned w : block.at_warp) waiting += w;
    if (waiting > 0 && waiting + block.exited == block.threads) {
        die("deadlock in block %u: %u threads at __syncthreads, %u at a warp shuffle, %u returned "
            "(a barrier that not every thread of the block / warp reaches is undefined on a GPU)",
            block.index, block.at_sync, waiting - block.at_sync, block.exited);
    }
}

// Threads of the pool run the blocks; thread i is threadIdx.x == i.
class Pool {
  public:
    void run_block(unsigned index, unsigned threads, const std::function<void()>& body) {
        std::unique_lock lk(m_);
        while (workers_.size() < threads) {
            const unsigned i = static_cast<unsigned>(workers_.size());
            workers_.emplace_back([this, i, seen = gen_] { loop(i, seen); });
        }
        body_ = &body;
        index_ = index;
        active_ = threads;
        done_ = 0;
        ++gen_;
        work_.notify_all();
        done_cv_.wait(lk, [&] { return done_ == active_; });
    }
    ~Pool() {
        {
            std::lock_guard lk(m_);
            stop_ = true;
        }
        work_.notify_all();
        for (auto& t : workers_) t.join();
    }

  private:
    void loop(unsigned i, uint64_t seen) {
        std::unique_lock lk(m_);
        for (;;) {
            work_.wait(lk, [&] { return stop_ || gen_ != seen; });
            if (stop_) return;
            seen = gen_;
            if (i >= active_) continue;
            const std::function<void()>* body = body_;
            const unsigned index = index_;
            lk.unlock();
            threadIdx = dim3(i);
            blockIdx = dim3(index);
            in_kernel = true;
            (*body)();
            {
                std::lock_guard blk(block.m);
                ++block.exited;
                check_progress();
            }
            lk.lock();
            if (++done_ == active_) done_cv_.notify_one();
        }
    }
    std::mutex m_;
    std::condition_variable work_, done_cv_;
    std::vector<std::thread> workers_;
    uint64_t gen_ = 0;
    unsigned active_ = 0, done_ = 0, index_ = 0;
    bool stop_ = false;
    const std::function<void()>* body_ = nullptr;
};

unsigned max_grid() {
    static const unsigned cap = [] {
        const char* e = std::getenv("EMU_MAX_GRID");
        if (e == nullptr || *e == '\0') return ~0u;
        char* end;
        const unsigned long v = std::strtoul(e, &end, 10);
        if (*end != '\0' || v == 0 || v > 0x7fffffffu) die("EMU_MAX_GRID=%s: want a positive integer", e);
        return static_cast<unsigned>(v);
    }();
    return cap;
}

}  // namespace

void die(const char* fmt, ...) {
    std::fflush(stdout);
    std::fprintf(stderr, "EMU FAULT (CPU emulation of CUDA): ");
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (in_kernel) std::fprintf(stderr, " [block %u thread %u]", blockIdx.x, threadIdx.x);
    std::fprintf(stderr, "\n");
    std::abort();
}

void syncthreads() {
    std::unique_lock lk(block.m);
    const uint32_t g = block.sync_gen.load();
    if (++block.at_sync == block.threads) {
        block.at_sync = 0;
        block.sync_gen.store(g + 1);
        lk.unlock();
        block.sync_gen.notify_all();
        return;
    }
    check_progress();
    lk.unlock();
    block.sync_gen.wait(g);
}

uint64_t warp_exchange(uint64_t bits, unsigned src_lane) {
    const unsigned w = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (block.threads < (w + 1) * 32) {
        die("full-mask shuffle in warp %u of a %u-thread block: lanes %u..31 do not exist (undefined on a GPU)", w,
            block.threads, block.threads - w * 32);
    }
    std::unique_lock lk(block.m);
    const uint32_t g = block.warp_gen[w].load();
    uint64_t(&slot)[32][32] = block.xch[g & 1];  // the other parity belongs to the next shuffle
    slot[w][lane] = bits;
    if (++block.at_warp[w] == 32) {
        block.at_warp[w] = 0;
        block.warp_gen[w].store(g + 1);
        lk.unlock();
        block.warp_gen[w].notify_all();
    } else {
        check_progress();
        lk.unlock();
        block.warp_gen[w].wait(g);
    }
    return slot[w][src_lane];
}

// Called by every thread at each __shared__ declaration (transform.py inserts the call). The first
// thread of a block to get here counts the array and poisons it with 0xff bytes (NaN in fp32/bf16,
// -1 in integers), so a read before the block wrote it does not see the previous block's data.
void shared_register(void* p, size_t bytes) {
    std::lock_guard lk(block.m);
    if (std::find(block.shared.begin(), block.shared.end(), p) != block.shared.end()) return;
    block.shared.push_back(p);
    block.shared_bytes += bytes;
    if (block.shared_bytes > kMaxSharedBytes) {
        die("%zu bytes of static shared memory > 48 KiB: nvcc would reject this kernel", block.shared_bytes);
    }
    std::memset(p, 0xff, bytes);
}

void check_kernel_pointer(const void* p, size_t arg_index) {
    if (p != nullptr && !in_allocation(p, 0)) {
        die("kernel argument %zu = %p is not inside a cudaMalloc allocation (a host pointer faults on a GPU; "
            "mapped host memory is not emulated)", arg_index, p);
    }
}

bool launch_begin(dim3 g, dim3 b, size_t smem, cudaStream_t stream) {
    const unsigned long long threads = 1ull * b.x * b.y * b.z;
    if (b.x == 0 || b.y == 0 || b.z == 0 || b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024 || g.x == 0 ||
        g.y == 0 || g.z == 0 || g.x > 0x7fffffffu || g.y > 65535 || g.z > 65535) {
        std::fprintf(stderr, "EMU: launch rejected: grid (%u,%u,%u) block (%u,%u,%u)\n", g.x, g.y, g.z, b.x, b.y, b.z);
        set_error(cudaErrorInvalidConfiguration);
        return false;
    }
    if (smem > kMaxSharedBytes) {
        std::fprintf(stderr, "EMU: launch rejected: %zu bytes of dynamic shared memory > 48 KiB\n", smem);
        set_error(cudaErrorInvalidValue);
        return false;
    }
    bool known_stream;
    {
        std::lock_guard lk(alloc_mutex);
        known_stream = stream == nullptr || streams.count(stream) != 0;
    }
    if (!known_stream) {
        std::fprintf(stderr, "EMU: launch rejected: stream %p was not created or is destroyed\n",
                     static_cast<void*>(stream));
        set_error(cudaErrorInvalidResourceHandle);
        return false;
    }
    if (b.y != 1 || b.z != 1 || g.y != 1 || g.z != 1) die("only 1-D grids and blocks are emulated");
    if (smem != 0) die("dynamic shared memory (extern __shared__) is not emulated");
    return true;
}

void run_grid(dim3 grid, dim3 b, const std::function<void()>& body) {
    static std::mutex launch_mutex;  // one Block, one copy of each __shared__ array: one launch at a time
    std::lock_guard launch_lock(launch_mutex);
    static Pool pool;
    const unsigned blocks = std::min(grid.x, max_grid());
    gridDim = dim3(blocks);  // grid-stride kernels: fewer blocks, same result
    blockDim = b;
    for (unsigned i = 0; i < blocks; ++i) {
        {
            std::lock_guard lk(block.m);
            block.threads = b.x;
            block.exited = block.at_sync = 0;
            std::fill(std::begin(block.at_warp), std::end(block.at_warp), 0u);
            block.shared.clear();
            block.shared_bytes = 0;
            block.index = i;
        }
        pool.run_block(i, b.x, body);
    }
}

}  // namespace emu

// ---- runtime API ----
using emu::set_error;

const char* cudaGetErrorName(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "cudaSuccess";
        case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
        case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
        case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
        case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    }
    return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    }
    return "unknown error";
}
cudaError_t cudaGetLastError() {
    const cudaError_t e = emu::last_error;
    emu::last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError() { return emu::last_error; }

cudaError_t cudaMalloc(void** p, size_t bytes) {
    if (p == nullptr) return set_error(cudaErrorInvalidValue);
    *p = nullptr;
    if (bytes == 0) return cudaSuccess;
    void* q = nullptr;
    if (posix_memalign(&q, 256, bytes) != 0) return set_error(cudaErrorMemoryAllocation);
    std::memset(q, 0xA5, bytes);  // garbage, like fresh device memory
    std::lock_guard lk(emu::alloc_mutex);
    emu::allocations[reinterpret_cast<uintptr_t>(q)] = bytes;
    *p = q;
    return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
    if (p == nullptr) return cudaSuccess;
    std::lock_guard lk(emu::alloc_mutex);
    if (emu::allocations.erase(reinterpret_cast<uintptr_t>(p)) == 0) return set_error(cudaErrorInvalidValue);
    std::free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return cudaSuccess;
    const bool dev_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool dev_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (dst == nullptr || src == nullptr || kind > cudaMemcpyDefault || (dev_dst && !emu::in_allocation(dst, bytes)) ||
        (dev_src && !emu::in_allocation(src, bytes))) {
        return set_error(cudaErrorInvalidValue);
    }
    std::memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
    if (bytes == 0) return cudaSuccess;
    if (!emu::in_allocation(p, bytes)) return set_error(cudaErrorInvalidValue);
    std::memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* s) {
    if (s == nullptr) return set_error(cudaErrorInvalidValue);
    *s = new CUstream_st{};
    std::lock_guard lk(emu::alloc_mutex);
    emu::streams.insert(*s);
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    std::lock_guard lk(emu::alloc_mutex);
    if (s == nullptr || emu::streams.erase(s) == 0) return set_error(cudaErrorInvalidResourceHandle);
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {  // launches are synchronous; only the handle is checked
    std::lock_guard lk(emu::alloc_mutex);
    if (s != nullptr && !emu::streams.count(s)) return set_error(cudaErrorInvalidResourceHandle);
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
