/*
 * gpt_cuda.h: the GPT-2 model of gpt.h trained on one NVIDIA GPU.
 *
 * The same model as gpt.h (same parameters in the same order, so the same
 * checkpoints), in mixed precision as llm.c and the PyTorch recipes do it:
 * bf16 weights, activations and gradients; fp32 master weights, AdamW
 * moments, LayerNorm statistics, softmax and loss.  Matrix products go
 * through cuBLASLt (bias, and GELU for the MLP's first layer, fused into
 * the epilogue); the other operations are the kernels of kernels.cu, each
 * checked against the CPU reference op of ops.h (tests/unit/t_cuda_ops.c).
 * Attention, by default, is the simple version: scores through cuBLAS, a
 * causal softmax kernel, the T x T probabilities kept for backward
 * (B*NH*T*T bf16 per layer).  With QN_CUDA_ATTENTION=flash in the
 * environment when the model is created, the fused flash-style kernel of
 * attention.cu runs instead (tensor cores through WMMA, the T x T scores
 * never stored, deterministic backward; head sizes 16, 32, 64, 128); it
 * becomes the default once validated on a GPU.
 *
 * Deterministic: no float atomics; the same parameters and batches give
 * the same losses and weights run after run on the same device (resume is
 * bit-exact there).  Between devices, and between CPU and GPU, results
 * agree within bf16 rounding only.
 *
 * Host arrays are fp32 in gpt.h's layout (enum qn_gpt_param order, llm.c's
 * shapes): params, AdamW m and v each nparams floats, exactly what the
 * CPU trainer keeps, so a checkpoint written from either moves to the
 * other unchanged.
 *
 * Memory, per model: 16 bytes per parameter (fp32 master, m, v; bf16
 * weights and gradients) plus activations of about
 *   2*B*T*(L*(16*C + NH*T) + Vp + 19*C + NH*T) bytes
 * (the NH*T terms become 2*NH fp32 per position with the fused attention)
 * (per layer 16 bf16 values per position and channel and the attention
 * probabilities; the logits and the backward scratch once).  GPT-2 124M
 * at T=1024 takes about 14 GB at B=16 and 51 GB at B=64; 350M (L=24,
 * C=1024, NH=16) about 35 GB at B=16; qn_gpt_cuda_memory says exactly.
 *
 * Data parallelism (designed, not implemented).  One process per GPU,
 * launched by mpirun (rank r of W, local rank selects the device with
 * cudaSetDevice before qn_gpt_cuda_new); rank 0 creates an ncclUniqueId
 * and broadcasts it with MPI_Bcast, every rank calls ncclCommInitRank.
 * Each rank reads its own shard of the batch (the loader's stride is W,
 * offset r), runs forward and backward, then one ncclAllReduce(sum) over
 * the contiguous bf16 gradient array (grads is one allocation for that
 * reason; in buckets of a few tensors, launched on a second stream as the
 * backward pass finishes each layer so communication overlaps compute),
 * scales by 1/W inside the AdamW kernel (gscale), and every rank applies
 * the same step to its full copy of the master weights, which therefore
 * stay identical.  The loss is all-reduced the same way for logging; the
 * gradient norm is computed after the all-reduce, so clipping agrees.
 * Rank 0 alone writes checkpoints and the manifest.  ZeRO-1 (each rank
 * keeps 1/W of the fp32 master and moments, reduce-scatter the gradients,
 * all-gather the bf16 weights) is the next step and keeps this API: only
 * qn_gpt_cuda_get_* would gather first.  The API grows one call,
 * qn_gpt_cuda_new_dist(..., rank, world, nccl_comm), nothing else.
 */
#ifndef QN_GPT_CUDA_H
#define QN_GPT_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

#include "gpt.h"	/* C declarations, no guards of its own */

/* GPUs visible; 0 where there is none or the driver cannot be reached. */
int qn_cuda_device_count(void);
/* "NVIDIA H100 80GB HBM3, 132 SMs, 79.1 GiB" of the current device, into buf. */
void qn_cuda_device_name(char *buf, size_t size);

struct qn_gpt_cuda;

/*
 * Creates the model on the current device for batches of up to B x T
 * (T <= c->max_seq) from params (nparams fp32 floats in gpt.h's layout),
 * with AdamW moments zero.  c as checked by qn_gpt_config_check; channels
 * a multiple of 8 and of n_head.  QN_EIO with CUDA's words (out of memory
 * included) on failure.
 */
int qn_gpt_cuda_new(struct qn_gpt_cuda **out, const struct qn_gpt_config *c,
		    int B, int T, const float *params, struct qn_err *err);
void qn_gpt_cuda_free(struct qn_gpt_cuda *g);
size_t qn_gpt_cuda_nparams(const struct qn_gpt_cuda *g);
/* Bytes allocated on the device by this model. */
size_t qn_gpt_cuda_memory(const struct qn_gpt_cuda *g);

/*
 * Forward over inputs[b*T + t] and targets (host arrays, tokens below
 * vocab; B, T within the sizes given at creation); *loss the mean loss
 * (summed in double on the host from the per-token fp32 losses).  Keeps
 * what backward needs; the logits are overwritten by their gradient in
 * the same kernel (sampling uses the CPU model, gpt.h).
 */
int qn_gpt_cuda_forward(struct qn_gpt_cuda *g, const int32_t *inputs,
			const int32_t *targets, int B, int T, float *loss,
			struct qn_err *err);
/* Zeroes the gradients (backward adds to them). */
int qn_gpt_cuda_zero_grad(struct qn_gpt_cuda *g, struct qn_err *err);
/* Adds the gradient of the last forward's mean loss to the bf16 gradients. */
int qn_gpt_cuda_backward(struct qn_gpt_cuda *g, struct qn_err *err);

struct qn_adamw_hp {
	float lr, beta1, beta2, eps;
	float weight_decay;	/* on the tensors qn_gpt_param_decays names */
	float grad_clip;	/* clip the global norm to this; 0: never */
};
/*
 * One AdamW step at step number t (from 1) on the fp32 master weights,
 * as the CPU trainer takes it (qn_grad_finish, then qn_*_adamw per tensor):
 * the gradient summed over accum backward passes is averaged, its global
 * norm taken, and it is scaled by min(1, grad_clip / norm); *grad_norm
 * (may be NULL) is that norm before clipping.  Refreshes the bf16 weights;
 * leaves the gradients as they were (zero them for the next step).
 */
int qn_gpt_cuda_step(struct qn_gpt_cuda *g, const struct qn_adamw_hp *hp, int t,
		     int accum, float *grad_norm, struct qn_err *err);

/* Copies out (fp32, gpt.h layout, nparams floats each; any may be NULL). */
int qn_gpt_cuda_get(struct qn_gpt_cuda *g, float *params, float *m, float *v,
		    struct qn_err *err);
/* Copies in, e.g. on resume (any may be NULL: left as they are). */
int qn_gpt_cuda_set(struct qn_gpt_cuda *g, const float *params, const float *m,
		    const float *v, struct qn_err *err);
/* The bf16 gradients of the last backward as fp32, gpt.h layout. */
int qn_gpt_cuda_get_grads(struct qn_gpt_cuda *g, float *grads, struct qn_err *err);

#ifdef __cplusplus
}
#endif

#endif
