fn main() {
    println!("ecs-poc: skeleton");
}
