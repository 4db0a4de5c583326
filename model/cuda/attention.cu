/*
 * attention.cu: fused causal attention, flash-style: the T x T scores
 * are never stored.  Forward keeps per row only the log-sum-exp of the
 * scaled scores (lse [B,NH,T], fp32); backward recomputes the
 * probabilities tile by tile from it.
 *
 * Tiles of 64 queries x 64 keys; a block of 4 warps takes 64 rows, each
 * warp 16, and the products run on tensor cores through WMMA (bf16 in,
 * fp32 accumulation; sm_80 and later).  The online softmax keeps, per
 * query row, the running maximum m and sum l in fp32; the output
 * accumulator lives in shared memory so it can be rescaled row by row.
 *
 * Backward is deterministic, without atomics: one kernel per key block
 * accumulates dK and dV over the query blocks at or after it, another per
 * query block accumulates dQ over the key blocks at or before it (the
 * probabilities are recomputed in both, the price of determinism), each
 * sum in a fixed order in registers.  D = rowsum(dO * O) comes first.
 *
 * Head sizes 16, 32, 64 and 128.  Shapes as kernels.cuh's attention:
 * qkv [B,T,3,NH,HS] in, out [B,T,NH,HS]; qkvr is the same permuted to
 * [3][B,NH,T,HS] so a tile's rows are contiguous.
 */
#include <math.h>
#include <mma.h>

#include "kernels.cuh"

using namespace nvcuda;

#define FB 64		/* rows per tile, queries or keys */
#define FWARPS 4	/* 16 rows each */
#define FULL 0xffffffffu

typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc_t;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a_row_t;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> b_col_t;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> b_row_t;

/* per warp: S [16][FB] fp32, P [16][FB] bf16, O or a staging area [16][HS] fp32 */
#define WARP_BYTES(HS) (16 * FB * 4 + 16 * FB * 2 + 16 * (HS) * 4)

static size_t fwd_smem(int HS)
{
	return (size_t)3 * FB * HS * 2 + (size_t)FWARPS * WARP_BYTES(HS);
}

static size_t bwd_smem(int HS)
{
	return (size_t)4 * FB * HS * 2 + 2 * FB * 4 + (size_t)FWARPS * WARP_BYTES(HS);
}

__device__ static inline float fl_warp_sum(float x)
{
	for (int o = 16; o > 0; o >>= 1)
		x += __shfl_xor_sync(FULL, x, o);
	return x;
}

__device__ static inline float fl_warp_max(float x)
{
	for (int o = 16; o > 0; o >>= 1)
		x = fmaxf(x, __shfl_xor_sync(FULL, x, o));
	return x;
}

/* rows [t0, t0 + FB) of a [T, HS] matrix into tile (zero past T) */
template <int HS>
__device__ static void load_tile(bf16 *tile, const bf16 *src, int t0, int T)
{
	for (int i = threadIdx.x; i < FB * HS; i += blockDim.x) {
		int t = t0 + i / HS;
		tile[i] = t < T ? src[(size_t)t * HS + i % HS] : __float2bfloat16(0.0f);
	}
}

/* s [16][FB] = a [16][HS] . b [FB][HS]^T, both row-major in shared memory */
template <int HS>
__device__ static void mm_abt(float *s, const bf16 *a, const bf16 *b)
{
	for (int j = 0; j < FB / 16; j++) {
		acc_t acc;
		wmma::fill_fragment(acc, 0.0f);
		for (int kk = 0; kk < HS / 16; kk++) {
			a_row_t fa;
			b_col_t fb;
			wmma::load_matrix_sync(fa, a + kk * 16, HS);
			wmma::load_matrix_sync(fb, b + j * 16 * HS + kk * 16, HS);
			wmma::mma_sync(acc, fa, fb, acc);
		}
		wmma::store_matrix_sync(s + j * 16, acc, FB, wmma::mem_row_major);
	}
}

/* acc[HS/16] ([16][HS]) += p [16][FB] . b [FB][HS] */
template <int HS>
__device__ static void mm_pb(acc_t *acc, const bf16 *p, const bf16 *b)
{
	for (int dt = 0; dt < HS / 16; dt++)
		for (int kk = 0; kk < FB / 16; kk++) {
			a_row_t fa;
			b_row_t fb;
			wmma::load_matrix_sync(fa, p + kk * 16, FB);
			wmma::load_matrix_sync(fb, b + kk * 16 * HS + dt * 16, HS);
			wmma::mma_sync(acc[dt], fa, fb, acc[dt]);
		}
}

template <int HS>
__global__ static void __launch_bounds__(FWARPS * 32)
flash_fwd_kernel(bf16 *out, float *lse, const bf16 *q, const bf16 *k, const bf16 *v,
		 int T, int NH, float scale)
{
	extern __shared__ __align__(128) unsigned char smem[];
	bf16 *Qs = (bf16 *)smem, *Ks = Qs + FB * HS, *Vs = Ks + FB * HS;
	int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	unsigned char *wb = (unsigned char *)(Vs + FB * HS) + (size_t)warp * WARP_BYTES(HS);
	float *S = (float *)wb;
	bf16 *P = (bf16 *)(S + 16 * FB);
	float *O = (float *)(P + 16 * FB);
	int bh = blockIdx.y, b = bh / NH, h = bh % NH, qb = blockIdx.x;
	size_t base = (size_t)bh * T * HS;
	int q0 = qb * FB + warp * 16;		/* this warp's first query row */
	int nkb = min(qb + 1, (T + FB - 1) / FB);
	float m[16], l[16];			/* per row, the same in every lane */

	/*
	 * Lanes run along the columns (keys, then head dimensions) of one row
	 * at a time: consecutive lanes touch consecutive words of shared
	 * memory, no bank conflicts, and the row statistics are warp sums.
	 */
#pragma unroll
	for (int rr = 0; rr < 16; rr++) {
		m[rr] = -INFINITY;
		l[rr] = 0.0f;
	}
	load_tile<HS>(Qs, q + base, qb * FB, T);
	for (int i = lane; i < 16 * HS; i += 32)
		O[i] = 0.0f;
	for (int kb = 0; kb < nkb; kb++) {
		__syncthreads();	/* the previous tiles are consumed */
		load_tile<HS>(Ks, k + base, kb * FB, T);
		load_tile<HS>(Vs, v + base, kb * FB, T);
		__syncthreads();
		mm_abt<HS>(S, Qs + warp * 16 * HS, Ks);
		__syncwarp();
		/* online softmax, row by row */
#pragma unroll
		for (int rr = 0; rr < 16; rr++) {
			int qi = q0 + rr, k0 = kb * FB + lane, k1 = k0 + 32;
			float s0 = k0 <= qi && k0 < T ? S[rr * FB + lane] * scale : -INFINITY;
			float s1 = k1 <= qi && k1 < T ? S[rr * FB + lane + 32] * scale : -INFINITY;
			float mnew = fmaxf(m[rr], fl_warp_max(fmaxf(s0, s1)));
			float corr = mnew == -INFINITY ? 1.0f : expf(m[rr] - mnew);
			float p0 = mnew == -INFINITY ? 0.0f : expf(s0 - mnew);
			float p1 = mnew == -INFINITY ? 0.0f : expf(s1 - mnew);
			P[rr * FB + lane] = __float2bfloat16(p0);
			P[rr * FB + lane + 32] = __float2bfloat16(p1);
			l[rr] = l[rr] * corr + fl_warp_sum(p0 + p1);
			m[rr] = mnew;
			for (int d = lane; d < HS; d += 32)
				O[rr * HS + d] *= corr;
		}
		__syncwarp();
		acc_t acc[HS / 16];
		for (int dt = 0; dt < HS / 16; dt++)
			wmma::load_matrix_sync(acc[dt], O + dt * 16, HS, wmma::mem_row_major);
		mm_pb<HS>(acc, P, Vs);
		for (int dt = 0; dt < HS / 16; dt++)
			wmma::store_matrix_sync(O + dt * 16, acc[dt], HS, wmma::mem_row_major);
		__syncwarp();
	}
#pragma unroll
	for (int rr = 0; rr < 16; rr++) {
		int qi = q0 + rr;
		if (qi >= T)
			break;
		float inv = 1.0f / l[rr];
		bf16 *o = out + ((size_t)(b * T + qi) * NH + h) * HS;
		for (int d = lane; d < HS; d += 32)
			o[d] = __float2bfloat16(O[rr * HS + d] * inv);
		if (lane == 0)
			lse[(size_t)bh * T + qi] = m[rr] + logf(l[rr]);
	}
}

/* D[bh*T + t] = sum_d dout . out (both [B,T,NH,HS]); one warp per row */
__global__ static void flash_d_kernel(float *D, const bf16 *dout, const bf16 *out, int B, int T,
				      int NH, int HS)
{
	int lane = threadIdx.x % 32, row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	if (row >= B * NH * T)
		return;
	int bh = row / T, t = row % T, b = bh / NH, h = bh % NH;
	size_t o = ((size_t)(b * T + t) * NH + h) * HS;
	float s = 0.0f;
	for (int d = lane; d < HS; d += 32)
		s += __bfloat162float(dout[o + d]) * __bfloat162float(out[o + d]);
	for (int x = 16; x > 0; x >>= 1)
		s += __shfl_xor_sync(FULL, s, x);
	if (lane == 0)
		D[row] = s;
}

/* acc ([16][HS]) -> stage -> dqkv slot (0 q, 1 k, 2 v) of rows t0 .. t0+15 */
template <int HS>
__device__ static void write_rows(bf16 *dqkv, float *stage, acc_t *acc, int slot, int b, int t0,
				  int T, int NH, int h, int lane)
{
	for (int dt = 0; dt < HS / 16; dt++)
		wmma::store_matrix_sync(stage + dt * 16, acc[dt], HS, wmma::mem_row_major);
	__syncwarp();
	for (int rr = 0; rr < 16 && t0 + rr < T; rr++) {
		bf16 *o = dqkv + ((size_t)(b * T + t0 + rr) * 3 + slot) * NH * HS + (size_t)h * HS;
		for (int d = lane; d < HS; d += 32)
			o[d] = __float2bfloat16(stage[rr * HS + d]);
	}
	__syncwarp();
}

/*
 * One block per key block: dV = sum_q P^T dO, dK = scale * sum_q dS^T Q
 * over the query blocks at or after it.  Per warp 16 keys; St holds S^T,
 * then dP^T; Pt holds P^T, then dS^T.
 */
template <int HS>
__global__ static void __launch_bounds__(FWARPS * 32)
flash_dkdv_kernel(bf16 *dqkv, const bf16 *q, const bf16 *k, const bf16 *v, const bf16 *dO,
		  const float *lse, const float *D, int T, int NH, float scale)
{
	extern __shared__ __align__(128) unsigned char smem[];
	bf16 *Ks = (bf16 *)smem, *Vs = Ks + FB * HS, *Qs = Vs + FB * HS, *dOs = Qs + FB * HS;
	float *lse_s = (float *)(dOs + FB * HS), *D_s = lse_s + FB;
	int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	unsigned char *wb = (unsigned char *)(D_s + FB) + (size_t)warp * WARP_BYTES(HS);
	float *St = (float *)wb;
	bf16 *Pt = (bf16 *)(St + 16 * FB);
	float *stage = (float *)(Pt + 16 * FB);
	int bh = blockIdx.y, b = bh / NH, h = bh % NH, kb = blockIdx.x;
	size_t base = (size_t)bh * T * HS;
	int key0 = kb * FB + warp * 16;		/* this warp's first key row */
	int nqb = (T + FB - 1) / FB;
	acc_t dK[HS / 16], dV[HS / 16];

	for (int dt = 0; dt < HS / 16; dt++) {
		wmma::fill_fragment(dK[dt], 0.0f);
		wmma::fill_fragment(dV[dt], 0.0f);
	}
	load_tile<HS>(Ks, k + base, kb * FB, T);
	load_tile<HS>(Vs, v + base, kb * FB, T);
	for (int qb = kb; qb < nqb; qb++) {
		__syncthreads();
		load_tile<HS>(Qs, q + base, qb * FB, T);
		load_tile<HS>(dOs, dO + base, qb * FB, T);
		for (int i = threadIdx.x; i < FB; i += blockDim.x) {
			int t = qb * FB + i;
			lse_s[i] = t < T ? lse[(size_t)bh * T + t] : 0.0f;
			D_s[i] = t < T ? D[(size_t)bh * T + t] : 0.0f;
		}
		__syncthreads();
		mm_abt<HS>(St, Ks + warp * 16 * HS, Qs);	/* S^T [16 keys][64 queries] */
		__syncwarp();
		for (int rr = 0; rr < 16; rr++)
			for (int c = lane; c < FB; c += 32) {
				int qq = qb * FB + c, key = key0 + rr;
				float p = qq >= key && qq < T && key < T ?
					expf(St[rr * FB + c] * scale - lse_s[c]) : 0.0f;
				Pt[rr * FB + c] = __float2bfloat16(p);
			}
		__syncwarp();
		mm_pb<HS>(dV, Pt, dOs);				/* dV += P^T dO */
		mm_abt<HS>(St, Vs + warp * 16 * HS, dOs);	/* dP^T = V dO^T */
		__syncwarp();
		for (int rr = 0; rr < 16; rr++)
			for (int c = lane; c < FB; c += 32) {
				float p = __bfloat162float(Pt[rr * FB + c]);
				Pt[rr * FB + c] = __float2bfloat16(scale * p * (St[rr * FB + c] - D_s[c]));
			}
		__syncwarp();
		mm_pb<HS>(dK, Pt, Qs);				/* dK += dS^T Q */
		__syncwarp();
	}
	write_rows<HS>(dqkv, stage, dK, 1, b, key0, T, NH, h, lane);
	write_rows<HS>(dqkv, stage, dV, 2, b, key0, T, NH, h, lane);
}

/* One block per query block: dQ = scale * sum_k dS K over the key blocks at or before it. */
template <int HS>
__global__ static void __launch_bounds__(FWARPS * 32)
flash_dq_kernel(bf16 *dqkv, const bf16 *q, const bf16 *k, const bf16 *v, const bf16 *dO,
		const float *lse, const float *D, int T, int NH, float scale)
{
	extern __shared__ __align__(128) unsigned char smem[];
	bf16 *Qs = (bf16 *)smem, *dOs = Qs + FB * HS, *Ks = dOs + FB * HS, *Vs = Ks + FB * HS;
	float *lse_s = (float *)(Vs + FB * HS), *D_s = lse_s + FB;
	int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	unsigned char *wb = (unsigned char *)(D_s + FB) + (size_t)warp * WARP_BYTES(HS);
	float *S = (float *)wb;
	bf16 *P = (bf16 *)(S + 16 * FB);
	float *stage = (float *)(P + 16 * FB);
	int bh = blockIdx.y, b = bh / NH, h = bh % NH, qb = blockIdx.x;
	size_t base = (size_t)bh * T * HS;
	int q0 = qb * FB + warp * 16;		/* this warp's first query row */
	int nkb = min(qb + 1, (T + FB - 1) / FB);
	acc_t dQ[HS / 16];

	for (int dt = 0; dt < HS / 16; dt++)
		wmma::fill_fragment(dQ[dt], 0.0f);
	load_tile<HS>(Qs, q + base, qb * FB, T);
	load_tile<HS>(dOs, dO + base, qb * FB, T);
	for (int i = threadIdx.x; i < FB; i += blockDim.x) {
		int t = qb * FB + i;
		lse_s[i] = t < T ? lse[(size_t)bh * T + t] : 0.0f;
		D_s[i] = t < T ? D[(size_t)bh * T + t] : 0.0f;
	}
	for (int kb = 0; kb < nkb; kb++) {
		__syncthreads();
		load_tile<HS>(Ks, k + base, kb * FB, T);
		load_tile<HS>(Vs, v + base, kb * FB, T);
		__syncthreads();
		mm_abt<HS>(S, Qs + warp * 16 * HS, Ks);		/* S [16 queries][64 keys] */
		__syncwarp();
		for (int rr = 0; rr < 16; rr++)
			for (int c = lane; c < FB; c += 32) {
				int key = kb * FB + c, qi = q0 + rr;
				float p = key <= qi && key < T && qi < T ?
					expf(S[rr * FB + c] * scale - lse_s[warp * 16 + rr]) : 0.0f;
				P[rr * FB + c] = __float2bfloat16(p);
			}
		__syncwarp();
		mm_abt<HS>(S, dOs + warp * 16 * HS, Vs);	/* dP = dO V^T */
		__syncwarp();
		for (int rr = 0; rr < 16; rr++)
			for (int c = lane; c < FB; c += 32) {
				float p = __bfloat162float(P[rr * FB + c]);
				P[rr * FB + c] = __float2bfloat16(scale * p * (S[rr * FB + c] - D_s[warp * 16 + rr]));
			}
		__syncwarp();
		mm_pb<HS>(dQ, P, Ks);				/* dQ += dS K */
		__syncwarp();
	}
	write_rows<HS>(dqkv, stage, dQ, 0, b, q0, T, NH, h, lane);
}

/* qkv [B,T,3,NH,HS] -> qkvr [3][B,NH,T,HS]; y [B,NH,T,HS] <- out [B,T,NH,HS] */
__global__ static void fl_permute_kernel(bf16 *qkvr, const bf16 *qkv, int B, int T, int NH, int HS)
{
	size_t n = (size_t)B * NH * T * HS, i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	int d = (int)(i % HS), t = (int)((i / HS) % T), h = (int)((i / HS / T) % NH);
	int b = (int)(i / HS / T / NH);
	size_t src = (((size_t)b * T + t) * 3 * NH + h) * HS + d;
	qkvr[i] = qkv[src];
	qkvr[n + i] = qkv[src + (size_t)NH * HS];
	qkvr[2 * n + i] = qkv[src + 2 * (size_t)NH * HS];
}

__global__ static void fl_unpermute_kernel(bf16 *y, const bf16 *out, int B, int T, int NH, int HS)
{
	size_t n = (size_t)B * NH * T * HS, i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	int d = (int)(i % HS), t = (int)((i / HS) % T), h = (int)((i / HS / T) % NH);
	int b = (int)(i / HS / T / NH);
	y[i] = out[(((size_t)b * T + t) * NH + h) * HS + d];
}

int qn_k_flash_supported(int C, int NH)
{
	int HS = C / NH;
	return HS == 16 || HS == 32 || HS == 64 || HS == 128;
}

template <int HS>
static int fwd_launch(struct qn_cuda_ctx *ctx, bf16 *out, float *lse, const bf16 *qkvr,
		      int B, int T, int NH, float scale)
{
	size_t n = (size_t)B * NH * T * HS, sm = fwd_smem(HS);
	dim3 grid((unsigned int)((T + FB - 1) / FB), (unsigned int)(B * NH));

	QN_CUDA_CK(ctx, cudaFuncSetAttribute(flash_fwd_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm));
	flash_fwd_kernel<HS><<<grid, FWARPS * 32, sm, ctx->stream>>>(out, lse, qkvr, qkvr + n, qkvr + 2 * n,
								   T, NH, scale);
	QN_LAUNCH_CK(ctx);
	return 0;
}

template <int HS>
static int bwd_launch(struct qn_cuda_ctx *ctx, bf16 *dqkv, const bf16 *qkvr, const bf16 *dO,
		      const float *lse, const float *D, int B, int T, int NH, float scale)
{
	size_t n = (size_t)B * NH * T * HS, sm = bwd_smem(HS);
	dim3 grid((unsigned int)((T + FB - 1) / FB), (unsigned int)(B * NH));

	QN_CUDA_CK(ctx, cudaFuncSetAttribute(flash_dkdv_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm));
	QN_CUDA_CK(ctx, cudaFuncSetAttribute(flash_dq_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm));
	flash_dkdv_kernel<HS><<<grid, FWARPS * 32, sm, ctx->stream>>>(dqkv, qkvr, qkvr + n, qkvr + 2 * n, dO,
								    lse, D, T, NH, scale);
	QN_LAUNCH_CK(ctx);
	flash_dq_kernel<HS><<<grid, FWARPS * 32, sm, ctx->stream>>>(dqkv, qkvr, qkvr + n, qkvr + 2 * n, dO,
								  lse, D, T, NH, scale);
	QN_LAUNCH_CK(ctx);
	return 0;
}

int qn_k_flash_attention_forward(struct qn_cuda_ctx *ctx, bf16 *out, float *lse, bf16 *qkvr,
				 const bf16 *qkv, int B, int T, int C, int NH)
{
	int HS = C / NH;
	size_t n = (size_t)B * T * C;
	float scale = 1.0f / sqrtf((float)HS);

	if (!qn_k_flash_supported(C, NH))
		return qn_err_set(ctx->err, QN_EUSAGE, "fused attention: head size %d is not 16, 32, 64 or 128", HS);
	fl_permute_kernel<<<(unsigned int)((n + 255) / 256), 256, 0, ctx->stream>>>(qkvr, qkv, B, T, NH, HS);
	QN_LAUNCH_CK(ctx);
	switch (HS) {
	case 16: return fwd_launch<16>(ctx, out, lse, qkvr, B, T, NH, scale);
	case 32: return fwd_launch<32>(ctx, out, lse, qkvr, B, T, NH, scale);
	case 64: return fwd_launch<64>(ctx, out, lse, qkvr, B, T, NH, scale);
	default: return fwd_launch<128>(ctx, out, lse, qkvr, B, T, NH, scale);
	}
}

int qn_k_flash_attention_backward(struct qn_cuda_ctx *ctx, bf16 *dqkv, bf16 *qkvr, bf16 *dor,
				  float *D, const bf16 *dout, const bf16 *out, const bf16 *qkv,
				  const float *lse, int B, int T, int C, int NH)
{
	int HS = C / NH;
	size_t n = (size_t)B * T * C;
	unsigned int blocks = (unsigned int)((n + 255) / 256);
	float scale = 1.0f / sqrtf((float)HS);

	if (!qn_k_flash_supported(C, NH))
		return qn_err_set(ctx->err, QN_EUSAGE, "fused attention: head size %d is not 16, 32, 64 or 128", HS);
	fl_permute_kernel<<<blocks, 256, 0, ctx->stream>>>(qkvr, qkv, B, T, NH, HS);
	QN_LAUNCH_CK(ctx);
	fl_unpermute_kernel<<<blocks, 256, 0, ctx->stream>>>(dor, dout, B, T, NH, HS);
	QN_LAUNCH_CK(ctx);
	flash_d_kernel<<<(unsigned int)(((size_t)B * NH * T + 7) / 8), 256, 0, ctx->stream>>>(D, dout, out, B, T, NH, HS);
	QN_LAUNCH_CK(ctx);
	switch (HS) {
	case 16: return bwd_launch<16>(ctx, dqkv, qkvr, dor, lse, D, B, T, NH, scale);
	case 32: return bwd_launch<32>(ctx, dqkv, qkvr, dor, lse, D, B, T, NH, scale);
	case 64: return bwd_launch<64>(ctx, dqkv, qkvr, dor, lse, D, B, T, NH, scale);
	default: return bwd_launch<128>(ctx, dqkv, qkvr, dor, lse, D, B, T, NH, scale);
	}
}
