/*
 * gpt_pass.h: the GPT-2 forward and backward pass, written once over a
 * real type (internal to model/, not a contract).
 *
 * gpt.c includes it over float, calling the ops through a table chosen at
 * run time (the reference or the fast path); the gradient test
 * (tests/unit/t_gpt_grad.c) includes it over double, calling the
 * reference built in double, so the composition checked against finite
 * differences is the very code the model runs.
 *
 * The includer defines, before including:
 *   REAL       float or double
 *   OP(name)   a call target for op `name` given `const struct pass_ops *ops`
 *   struct pass_ops (may be empty of use: the double test ignores it)
 *   PASS_FUSED_XENT(ops) optional: nonzero when ops->head_forward and
 *              ops->head_backward replace the output projection and the
 *              cross-entropy (forward with targets and backward), keeping
 *              lse [N] in place of the probabilities
 *
 * Activations follow llm.c (shapes with L layers, N = B*T rows).  Their
 * buffers are sized for the largest B x T; a pass over a smaller batch
 * packs its tensors densely at the start of each per-layer slot.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
	A_ENCODED,	/* [N,C] */
	A_LN1,		/* [L,N,C] */
	A_LN1_MEAN,	/* [L,N] */
	A_LN1_RSTD,	/* [L,N] */
	A_QKV,		/* [L,N,3C] */
	A_ATTY,		/* [L,N,C] */
	A_PREATT,	/* [B,NH,T,T]: scratch, backward needs only att */
	A_ATT,		/* [L,B,NH,T,T] */
	A_ATTPROJ,	/* [L,N,C] */
	A_RESIDUAL2,	/* [L,N,C] */
	A_LN2,		/* [L,N,C] */
	A_LN2_MEAN,	/* [L,N] */
	A_LN2_RSTD,	/* [L,N] */
	A_FCH,		/* [L,N,4C] */
	A_FCH_GELU,	/* [L,N,4C] */
	A_FCPROJ,	/* [L,N,C] */
	A_RESIDUAL3,	/* [L,N,C] */
	A_LNF,		/* [N,C] */
	A_LNF_MEAN,	/* [N] */
	A_LNF_RSTD,	/* [N] */
	A_LOGITS,	/* [N,Vp] */
	A_PROBS,	/* [N,Vp] (unused when the cross-entropy is fused) */
	A_LOSSES,	/* [N] */
	A_LSE,		/* [N] log sum exp of the logits (fused only) */
	/* backward scratch, reused by every layer */
	D_RESIDUAL,	/* [N,C] */
	D_LNF,		/* [N,C] */
	D_LOGITS,	/* [N,Vp] (unused when the cross-entropy is fused) */
	D_LN,		/* [N,C] */
	D_ATTY,		/* [N,C] */
	D_QKV,		/* [N,3C] */
	D_PREATT,	/* [B,NH,T,T] */
	D_ATT,		/* [B,NH,T,T] */
	D_FCH,		/* [N,4C] */
	D_FCH_GELU,	/* [N,4C] */
	A_COUNT
};

/* Element counts of the activations for batches of B x T. */
static size_t pass_act_sizes(const struct qn_gpt_config *c, int B, int T,
			     size_t s[A_COUNT])
{
	size_t L = c->n_layer, C = c->channels, N = (size_t)B * T;
	size_t att = (size_t)B * c->n_head * T * T, Vp = c->padded_vocab, sum = 0;

	s[A_ENCODED] = N * C;
	s[A_LN1] = s[A_ATTY] = s[A_ATTPROJ] = s[A_RESIDUAL2] = L * N * C;
	s[A_LN2] = s[A_FCPROJ] = s[A_RESIDUAL3] = L * N * C;
	s[A_LN1_MEAN] = s[A_LN1_RSTD] = s[A_LN2_MEAN] = s[A_LN2_RSTD] = L * N;
	s[A_QKV] = L * N * 3 * C;
	s[A_PREATT] = att;
	s[A_ATT] = L * att;
	s[A_FCH] = s[A_FCH_GELU] = L * N * 4 * C;
	s[A_LNF] = N * C;
	s[A_LNF_MEAN] = s[A_LNF_RSTD] = s[A_LOSSES] = s[A_LSE] = N;
	s[A_LOGITS] = s[A_PROBS] = N * Vp;
	s[D_RESIDUAL] = s[D_LNF] = s[D_LN] = s[D_ATTY] = N * C;
	s[D_LOGITS] = N * Vp;
	s[D_QKV] = N * 3 * C;
	s[D_PREATT] = s[D_ATT] = att;
	s[D_FCH] = s[D_FCH_GELU] = N * 4 * C;
	for (int i = 0; i < A_COUNT; i++)
		sum += s[i];
	return sum;
}

/*
 * Forward over inp[B*T] with the parameter views p[] and the activation
 * views a[] (of the capacity given to pass_act_sizes).  With targets,
 * returns the mean loss (summed in double); else -1.
 */
static double pass_forward(const struct pass_ops *ops, const struct qn_gpt_config *cfg,
			   REAL *const *p, REAL *const *a, const int32_t *inp,
			   const int32_t *tgt, int B, int T)
{
	int L = cfg->n_layer, C = cfg->channels, NH = cfg->n_head;
	int Vp = cfg->padded_vocab, N = B * T;
	size_t nc = (size_t)N * C, att = (size_t)B * NH * T * T;
	REAL *residual = a[A_ENCODED];

	OP(encoder_forward)(a[A_ENCODED], inp, p[QN_WTE], p[QN_WPE], B, T, C);
	for (int l = 0; l < L; l++) {
		REAL *ln1 = a[A_LN1] + l * nc, *qkv = a[A_QKV] + l * 3 * nc;
		REAL *atty = a[A_ATTY] + l * nc, *attproj = a[A_ATTPROJ] + l * nc;
		REAL *res2 = a[A_RESIDUAL2] + l * nc, *ln2 = a[A_LN2] + l * nc;
		REAL *fch = a[A_FCH] + l * 4 * nc, *fchg = a[A_FCH_GELU] + l * 4 * nc;
		REAL *fcproj = a[A_FCPROJ] + l * nc, *res3 = a[A_RESIDUAL3] + l * nc;

		OP(layernorm_forward)(ln1, a[A_LN1_MEAN] + l * N, a[A_LN1_RSTD] + l * N,
				      residual, p[QN_LN1W] + l * C, p[QN_LN1B] + l * C, N, C);
		OP(matmul_forward)(qkv, ln1, p[QN_QKVW] + (size_t)l * 3 * C * C,
				   p[QN_QKVB] + l * 3 * C, N, C, 3 * C);
		OP(attention_forward)(atty, a[A_PREATT], a[A_ATT] + l * att,
				      qkv, B, T, C, NH);
		OP(matmul_forward)(attproj, atty, p[QN_ATTPROJW] + (size_t)l * C * C,
				   p[QN_ATTPROJB] + l * C, N, C, C);
		OP(residual_forward)(res2, residual, attproj, nc);
		OP(layernorm_forward)(ln2, a[A_LN2_MEAN] + l * N, a[A_LN2_RSTD] + l * N,
				      res2, p[QN_LN2W] + l * C, p[QN_LN2B] + l * C, N, C);
		OP(matmul_forward)(fch, ln2, p[QN_FCW] + (size_t)l * 4 * C * C,
				   p[QN_FCB] + l * 4 * C, N, C, 4 * C);
		OP(gelu_forward)(fchg, fch, 4 * nc);
		OP(matmul_forward)(fcproj, fchg, p[QN_FCPROJW] + (size_t)l * 4 * C * C,
				   p[QN_FCPROJB] + l * C, N, 4 * C, C);
		OP(residual_forward)(res3, res2, fcproj, nc);
		residual = res3;
	}
	OP(layernorm_forward)(a[A_LNF], a[A_LNF_MEAN], a[A_LNF_RSTD], residual,
			      p[QN_LNFW], p[QN_LNFB], N, C);
	/* the padded rows of wte are zero, so the padded logits are zero */
#ifdef PASS_FUSED_XENT
	if (PASS_FUSED_XENT(ops)) {	/* the same logits with targets or without */
		ops->head_forward(a[A_LOSSES], a[A_LSE], a[A_LOGITS], a[A_LNF], p[QN_WTE],
				  tgt, N, C, cfg->vocab, Vp);
		if (!tgt)
			return -1;
	} else
#endif
	{
		OP(matmul_forward)(a[A_LOGITS], a[A_LNF], p[QN_WTE], NULL, N, C, Vp);
		if (!tgt)
			return -1;
		OP(softmax_xent_forward)(a[A_LOSSES], a[A_PROBS], a[A_LOGITS], tgt, N,
					 cfg->vocab, Vp);
	}
	double loss = 0;
	for (int i = 0; i < N; i++)
		loss += a[A_LOSSES][i];
	return loss / N;
}

/*
 * Backward of the mean loss of the forward just run on the same a[]
 * (inputs inp, targets tgt, B x T): adds the parameter gradients into g[].
 * Every scratch gradient is zeroed before the op that adds into it.
 * fresh_wte (the fused path only): g[QN_WTE] holds nothing to keep, so
 * the head writes it rather than adding to it.
 */
static void pass_backward(const struct pass_ops *ops, const struct qn_gpt_config *cfg,
			  REAL *const *p, REAL *const *g, REAL *const *a,
			  const int32_t *inp, const int32_t *tgt, int B, int T, int fresh_wte)
{
	int L = cfg->n_layer, C = cfg->channels, NH = cfg->n_head;
	int Vp = cfg->padded_vocab, N = B * T;
	size_t nc = (size_t)N * C, att = (size_t)B * NH * T * T;
	REAL *dres = a[D_RESIDUAL], *dlogits = a[D_LOGITS];

	memset(a[D_LNF], 0, nc * sizeof(REAL));
#ifdef PASS_FUSED_XENT
	if (PASS_FUSED_XENT(ops)) {
		/* dlogits from the logits and lse, chunk by chunk with the
		 * output projection's backward */
		ops->head_backward(a[D_LNF], g[QN_WTE], a[A_LOGITS], a[A_LSE], a[A_LNF],
				   p[QN_WTE], tgt, (REAL)1 / N, N, C, cfg->vocab, Vp, fresh_wte);
	} else
#endif
	{
		(void)fresh_wte;
		memset(dlogits, 0, (size_t)N * Vp * sizeof *dlogits);
		OP(softmax_xent_backward)(dlogits, a[A_PROBS], tgt, (REAL)1 / N, N,
					  cfg->vocab, Vp);
		OP(matmul_backward)(a[D_LNF], g[QN_WTE], NULL, dlogits, a[A_LNF],
				    p[QN_WTE], N, C, Vp);
	}
	memset(dres, 0, nc * sizeof *dres);
	OP(layernorm_backward)(dres, g[QN_LNFW], g[QN_LNFB], a[D_LNF],
			       a[A_RESIDUAL3] + (size_t)(L - 1) * nc, p[QN_LNFW],
			       a[A_LNF_MEAN], a[A_LNF_RSTD], N, C);
	for (int l = L - 1; l >= 0; l--) {
		REAL *residual = l ? a[A_RESIDUAL3] + (l - 1) * nc : a[A_ENCODED];
		REAL *ln1 = a[A_LN1] + l * nc, *qkv = a[A_QKV] + l * 3 * nc;
		REAL *atty = a[A_ATTY] + l * nc, *res2 = a[A_RESIDUAL2] + l * nc;
		REAL *ln2 = a[A_LN2] + l * nc, *fch = a[A_FCH] + l * 4 * nc;
		REAL *fchg = a[A_FCH_GELU] + l * 4 * nc;
		size_t cc = (size_t)l * C * C;

		/* res3 = res2 + fcproj: dres holds d res3 = d fcproj, and passes
		 * through to d res2 */
		memset(a[D_FCH_GELU], 0, 4 * nc * sizeof(REAL));
		OP(matmul_backward)(a[D_FCH_GELU], g[QN_FCPROJW] + 4 * cc,
				    g[QN_FCPROJB] + l * C, dres, fchg,
				    p[QN_FCPROJW] + 4 * cc, N, 4 * C, C);
		memset(a[D_FCH], 0, 4 * nc * sizeof(REAL));
		OP(gelu_backward)(a[D_FCH], fch, a[D_FCH_GELU], 4 * nc);
		memset(a[D_LN], 0, nc * sizeof(REAL));
		OP(matmul_backward)(a[D_LN], g[QN_FCW] + 4 * cc, g[QN_FCB] + l * 4 * C,
				    a[D_FCH], ln2, p[QN_FCW] + 4 * cc, N, C, 4 * C);
		OP(layernorm_backward)(dres, g[QN_LN2W] + l * C, g[QN_LN2B] + l * C,
				       a[D_LN], res2, p[QN_LN2W] + l * C,
				       a[A_LN2_MEAN] + l * N, a[A_LN2_RSTD] + l * N, N, C);
		/* res2 = residual + attproj: dres is now d res2 = d attproj */
		memset(a[D_ATTY], 0, nc * sizeof(REAL));
		OP(matmul_backward)(a[D_ATTY], g[QN_ATTPROJW] + cc, g[QN_ATTPROJB] + l * C,
				    dres, atty, p[QN_ATTPROJW] + cc, N, C, C);
		memset(a[D_QKV], 0, 3 * nc * sizeof(REAL));
		OP(attention_backward)(a[D_QKV], a[D_PREATT], a[D_ATT], a[D_ATTY], qkv,
				       a[A_ATT] + l * att, B, T, C, NH);
		memset(a[D_LN], 0, nc * sizeof(REAL));
		OP(matmul_backward)(a[D_LN], g[QN_QKVW] + 3 * cc, g[QN_QKVB] + l * 3 * C,
				    a[D_QKV], ln1, p[QN_QKVW] + 3 * cc, N, C, 3 * C);
		OP(layernorm_backward)(dres, g[QN_LN1W] + l * C, g[QN_LN1B] + l * C,
				       a[D_LN], residual, p[QN_LN1W] + l * C,
				       a[A_LN1_MEAN] + l * N, a[A_LN1_RSTD] + l * N, N, C);
	}
	OP(encoder_backward)(g[QN_WTE], g[QN_WPE], dres, inp, B, T, C);
}
