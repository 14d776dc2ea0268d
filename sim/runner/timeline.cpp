// The timeline model is compiled in sim/scenario/timeline.cpp.
