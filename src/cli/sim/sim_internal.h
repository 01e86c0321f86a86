/* Private helpers shared by the simulator files (src/cli/sim/). */
#ifndef TTR_SIM_INTERNAL_H
#define TTR_SIM_INTERNAL_H

/* libm-free exp and log in double precision: the same bits on every target. */
double ttr__sim_exp(double x);
double ttr__sim_log(double x);
/* The planted relevance score of a feature vector (features 0..5). */
float ttr__planted_score(const float *x);

#endif
