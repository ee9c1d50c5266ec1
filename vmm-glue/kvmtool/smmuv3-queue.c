/* SPDX-License-Identifier: MIT */
/*
 * SMMUv3 circular queues (3.5): a base register holds the address and
 * LOG2SIZE, and PROD/CONS hold an index with one wrap bit above it, so a
 * queue is empty when both are equal and full when only the wrap bits
 * differ.  The event queue's producer is the model.
 */
#include "smmuv3-internal.h"

/* LOG2SIZE above the IDR1 maximum acts as the maximum (3.5.1). */
uint32_t smmuv3__q_log2(uint64_t base, unsigned int max)
{
	uint32_t log2 = FIELD(base, 4, 0);

	return log2 > max ? max : log2;
}

bool smmuv3__q_empty(uint32_t prod, uint32_t cons, unsigned int log2)
{
	uint32_t mask = (2u << log2) - 1;

	return (prod & mask) == (cons & mask);
}

bool smmuv3__q_full(uint32_t prod, uint32_t cons, unsigned int log2)
{
	uint32_t mask = (2u << log2) - 1;

	return ((prod ^ cons) & mask) == (1u << log2);
}

/* The next index, wrap bit included; bits above it are the caller's. */
uint32_t smmuv3__q_inc(uint32_t idx, unsigned int log2)
{
	uint32_t mask = (2u << log2) - 1;

	return (idx & ~mask) | ((idx + 1) & mask);
}

/* A queue larger than 32 bytes is aligned to its size: address bits
 * below it are IGNORED (SMMU_CMDQ_BASE.ADDR). */
uint64_t smmuv3__q_entry(uint64_t base, uint32_t idx, unsigned int log2,
			 unsigned int entry_size)
{
	uint64_t bytes = (uint64_t)entry_size << log2;
	uint64_t addr = base & Q_BASE_ADDR;

	if (bytes > 32)
		addr &= ~(bytes - 1);
	return addr + (uint64_t)(idx & ((1u << log2) - 1)) * entry_size;
}

/* Fetch faults carry the address in FetchAddr (dword 3); the others in
 * InputAddr (dword 2). */
static bool smmuv3__evt_fetch(enum smmuv3_event id)
{
	return id == EVT_F_STE_FETCH || id == EVT_F_CD_FETCH;
}

/*
 * Queue one event record.  An event with the queue disabled is dropped;
 * with the queue full it is dropped and PROD.OVFLG made to differ from
 * CONS.OVACKFLG (7.4); a record that cannot be written raises
 * GERROR.EVENTQ_ABT_ERR.
 */
void smmuv3__event(struct smmuv3 *s, enum smmuv3_event id, uint32_t sid,
		   uint64_t addr)
{
	unsigned int log2 = smmuv3__q_log2(s->evtq_base, SMMU_EVTQS);
	uint64_t rec[4] = { (uint64_t)id | (uint64_t)sid << 32, 0, 0, 0 };

	if (smmuv3__evt_fetch(id))
		rec[3] = addr & GENMASK(51, 3);
	else
		rec[2] = addr;
	if (!(s->cr0 & CR0_EVTQEN)) {
		s->st.events_lost++;
		return;
	}
	if (smmuv3__q_full(s->evtq_prod, s->evtq_cons, log2)) {
		s->evtq_prod = (s->evtq_prod & ~EVTQ_OVFLG) |
			       (~s->evtq_cons & EVTQ_OVFLG);
		s->st.events_lost++;
		return;
	}
	if (smmuv3__write(s, smmuv3__q_entry(s->evtq_base, s->evtq_prod, log2,
					     EVT_SIZE), rec, sizeof(rec))) {
		s->st.events_lost++;
		smmuv3__gerror_raise(s, GERROR_EVTQ_ABT);
		return;
	}
	s->evtq_prod = smmuv3__q_inc(s->evtq_prod, log2);
	s->st.events++;
	if (s->irq_ctrl & IRQ_CTRL_EVTQ)
		smmuv3__irq(s, SMMUV3_IRQ_EVTQ);
}
