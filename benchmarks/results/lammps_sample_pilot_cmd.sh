# lammps engineer, 20:29 UTC: pilots for a diffusive bundled sample (issue 16 item 2)
M=/work/main/.venv/bin/mdrunner
$M run --engine lammps -o rho1.20_NaC15_T800 --n-carbon 1000 --density 1.2 --loading NaC15 --seed 0 -T 800 --timestep 2.0 --steps 200000 --save-every 250 --checkpoint-every 25000 > T800.log 2>&1
$M run --engine lammps -o rho1.10_NaC15_T600 --n-carbon 1000 --density 1.1 --loading NaC15 --seed 0 -T 600 --timestep 2.0 --steps 200000 --save-every 250 --checkpoint-every 25000 > rho110.log 2>&1
