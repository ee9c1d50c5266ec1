/* SPDX-License-Identifier: MIT */
/*
 * The SMMUv3 command queue (4): consumed in order at each CMDQ_PROD write
 * (and when CMDQEN is set or a command error is acknowledged), one command
 * at a time, synchronously: when the doorbell write returns to the guest,
 * every command before PROD has taken effect, so CMD_SYNC completes at
 * once.  An illegal command stops the queue with CONS at it, CONS.ERR set
 * and GERROR.CMDQ_ERR raised (4.1.3), until GERRORN acknowledges it.
 */
#include "smmuv3-internal.h"

/* CFGI_STE_RANGE: 2^(Range + 1) stream IDs, aligned; Range 31 is
 * CFGI_ALL. */
static void smmuv3__cfgi_range(struct smmuv3 *s, const uint64_t cmd[2])
{
	unsigned int range = CMD_STE_RANGE(cmd[1]);
	uint64_t n = 2ull << range;
	uint64_t first = CMD_SID(cmd[0]) & ~(n - 1);

	smmuv3__reload_range(s, first, first + n - 1, true);
}

/* CMD_SYNC: everything before it is done already.  CS = IRQ with an
 * MSIAddr writes MSIData there (32 bits; Linux's MSI polling points it
 * at the SYNC's own queue entry); without an address it is the wired
 * CMD_SYNC interrupt. */
static int smmuv3__sync(struct smmuv3 *s, const uint64_t cmd[2])
{
	uint64_t addr = CMD_SYNC_MSIADDR(cmd[1]);
	uint32_t data = CMD_SYNC_MSIDATA(cmd[0]);

	s->st.syncs++;
	if (CMD_SYNC_CS(cmd[0]) != CMD_SYNC_CS_IRQ)
		return 0;
	if (!addr) {
		smmuv3__irq(s, SMMUV3_IRQ_SYNC);
		return 0;
	}
	if (smmuv3__write(s, addr, &data, sizeof(data))) {
		/* The command completes; only its MSI was lost (7.5). */
		smmuv3__gerror_raise(s, GERROR_MSI_CMDQ_ABT);
		return 0;
	}
	s->st.msi_writes++;
	return 0;
}

/* 0, or the CERROR code that stops the queue at this command. */
static int smmuv3__cmd(struct smmuv3 *s, const uint64_t cmd[2])
{
	switch (CMD_OP(cmd[0])) {
	case CMD_PREFETCH_CONFIG:
	case CMD_PREFETCH_ADDR:
		return 0; /* a hint: configuration is read at CFGI anyway */
	case CMD_CFGI_STE:
	case CMD_CFGI_CD_ALL:
		s->st.cfgi++;
		smmuv3__reload_range(s, CMD_SID(cmd[0]), CMD_SID(cmd[0]), true);
		return 0;
	case CMD_CFGI_CD:
		/* SSIDSIZE is 0: substream 0 is the only one (4.3.3). */
		if (CMD_SSID(cmd[0]))
			return CERROR_ILL;
		s->st.cfgi++;
		smmuv3__reload_range(s, CMD_SID(cmd[0]), CMD_SID(cmd[0]), true);
		return 0;
	case CMD_CFGI_STE_RANGE:
		s->st.cfgi++;
		smmuv3__cfgi_range(s, cmd);
		return 0;
	case CMD_TLBI_NH_ALL:
	case CMD_TLBI_NH_ASID:
	case CMD_TLBI_NH_VA:
	case CMD_TLBI_NH_VAA:
	case CMD_TLBI_NSNH_ALL:
		s->st.tlbi++;
		return smmuv3__tlbi(s, cmd);
	case CMD_SYNC:
		return smmuv3__sync(s, cmd);
	}
	/* Stage 2, EL2, ATS, PRI and stall commands: none is advertised. */
	return CERROR_ILL;
}

void smmuv3__cmdq_consume(struct smmuv3 *s)
{
	unsigned int log2 = smmuv3__q_log2(s->cmdq_base, SMMU_CMDQS);
	uint64_t cmd[2];
	int err;

	if (!(s->cr0 & CR0_CMDQEN))
		return;
	/* Bounded: PROD does not move while the lock is held, and at most
	 * 2^log2 entries lie between CONS and PROD. */
	while (!(s->cmdq_cons & CMDQ_CONS_ERR_MASK) &&
	       !smmuv3__q_empty(s->cmdq_prod, s->cmdq_cons, log2)) {
		uint64_t gpa = smmuv3__q_entry(s->cmdq_base, s->cmdq_cons,
					       log2, CMD_SIZE);

		if (smmuv3__read(s, gpa, cmd, sizeof(cmd)))
			err = CERROR_ABT;
		else
			err = smmuv3__cmd(s, cmd);
		s->st.cmds++;
		if (err) {
			s->cmdq_cons |= (uint32_t)err << CMDQ_CONS_ERR_SHIFT;
			s->st.cmd_errors++;
			smmuv3__gerror_raise(s, GERROR_CMDQ_ERR);
			return;
		}
		s->cmdq_cons = smmuv3__q_inc(s->cmdq_cons, log2);
	}
}
