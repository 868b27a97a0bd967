#pragma once
// Defined in e.cpp, called from d.cpp: what it takes is known only to e.cpp's facts.
void count_under_b();
