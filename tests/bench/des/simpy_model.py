#!/usr/bin/env python3
"""The des_sim_bench queueing model written with SimPy, for a speed comparison.

Poisson arrivals at RATE/s for SECONDS of simulated time; each request takes
one network hop (40 us) to the switcher, is routed round robin to one of
INSTANCES servers, waits for a free slot there when SLOTS > 0 (an M/G/c
queue per server; 0: unlimited, as the default fake service), is served for
a lognormal time (p50 2 ms, p99 20 ms), and takes one hop back. Latency from
arrival to the answer is recorded per request (as cutover records them).

Prints one line: "simpy requests=N cpu_s=S rate=R" (R: simulated requests per
CPU second of this process). Works with SimPy 2 (Debian 12's python3-simpy,
module SimPy) and SimPy >= 3 (module simpy).

    simpy_model.py [RATE] [SECONDS] [INSTANCES] [SLOTS] [SEED]
"""
import math
import random
import sys
import time

RATE = float(sys.argv[1]) if len(sys.argv) > 1 else 50000.0
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
INSTANCES = int(sys.argv[3]) if len(sys.argv) > 3 else 20
SLOTS = int(sys.argv[4]) if len(sys.argv) > 4 else 0
SEED = int(sys.argv[5]) if len(sys.argv) > 5 else 1

HOP = 40e-6
P50, P99 = 2e-3, 20e-3
MU = math.log(P50)
SIGMA = (math.log(P99) - MU) / 2.3263478740408408
rng = random.Random(SEED)
latencies = []


def service_time():
    return rng.lognormvariate(MU, SIGMA)


def run_simpy3(simpy):
    env = simpy.Environment()
    servers = [simpy.Resource(env, capacity=SLOTS) if SLOTS > 0 else None for _ in range(INSTANCES)]

    def request(k):
        start = env.now
        yield env.timeout(HOP)
        server = servers[k]
        if server is None:
            yield env.timeout(service_time())
        else:
            with server.request() as slot:
                yield slot
                yield env.timeout(service_time())
        yield env.timeout(HOP)
        latencies.append(env.now - start)

    def source():
        k = 0
        while True:
            yield env.timeout(rng.expovariate(RATE))
            if env.now >= SECONDS:
                return
            env.process(request(k))
            k = (k + 1) % INSTANCES

    env.process(source())
    env.run()


def run_simpy2(Sim):
    Sim.initialize()
    servers = [Sim.Resource(capacity=SLOTS) if SLOTS > 0 else None for _ in range(INSTANCES)]

    class Request(Sim.Process):
        def go(self, k):
            start = Sim.now()
            yield Sim.hold, self, HOP
            server = servers[k]
            if server is None:
                yield Sim.hold, self, service_time()
            else:
                yield Sim.request, self, server
                yield Sim.hold, self, service_time()
                yield Sim.release, self, server
            yield Sim.hold, self, HOP
            latencies.append(Sim.now() - start)

    class Source(Sim.Process):
        def go(self):
            k = 0
            while True:
                yield Sim.hold, self, rng.expovariate(RATE)
                if Sim.now() >= SECONDS:
                    return
                r = Request()
                Sim.activate(r, r.go(k))
                k = (k + 1) % INSTANCES

    s = Source()
    Sim.activate(s, s.go())
    Sim.simulate(until=SECONDS + 60.0)


def main():
    cpu0 = time.process_time()
    try:
        import simpy  # SimPy >= 3
        run_simpy3(simpy)
        flavour = "simpy" + getattr(simpy, "__version__", "3")
    except ImportError:
        import SimPy.Simulation as Sim  # SimPy 2 (Debian 12)
        run_simpy2(Sim)
        import SimPy
        flavour = "SimPy" + getattr(SimPy, "__version__", "2")
    cpu = time.process_time() - cpu0
    n = len(latencies)
    latencies.sort()
    p99 = latencies[min(n - 1, int(n * 0.99))] * 1e3 if n else 0.0
    print("simpy requests=%d cpu_s=%.3f rate=%.0f p99_ms=%.2f (%s)" % (n, cpu, n / cpu if cpu > 0 else 0, p99, flavour))


if __name__ == "__main__":
    main()
